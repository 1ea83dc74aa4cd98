namespace PgRelocate.Online.Apply;

/// <summary>
/// Which type changes the target makes in place: those where the target's own conversion gives every row the value
/// the source's did, whatever USING the source was given, as far as a widening can tell. A wider integer, a numeric
/// with room for every value, a longer or unbounded character type, more precision for a time or a float: their
/// cast keeps each value, and a USING that changes values is a data migration no one writes as a widening. Any other
/// change (text to a number, a narrower type, a USING that computes) is made on the target with the plain cast and
/// the table is copied again at a marker: the source's USING expression is not in its catalog.
/// </summary>
internal static class ColumnTypes
{
    private const uint Int2 = 21, Int4 = 23, Int8 = 20, Numeric = 1700, Text = 25, Varchar = 1043, Bpchar = 1042, Float4 = 700, Float8 = 701,
        Timestamp = 1114, TimestampTz = 1184, Time = 1083, TimeTz = 1266, Varbit = 1562;

    /// <summary>True when the change from the target's type to the source's keeps every value (see the class).</summary>
    public static bool Widens(uint fromType, int fromModifier, uint toType, int toModifier)
    {
        if (fromType == toType)
        {
            return fromType switch
            {
                // Lengths (n + 4 for the character types) and precisions: a larger one, or none.
                Varchar or Bpchar or Varbit or Timestamp or TimestampTz or Time or TimeTz => toModifier == -1 || (fromModifier != -1 && toModifier >= fromModifier),
                Numeric => toModifier == -1 || (fromModifier != -1 && Scale(toModifier) >= Scale(fromModifier) && Digits(toModifier) - Scale(toModifier) >= Digits(fromModifier) - Scale(fromModifier)),
                _ => false,
            };
        }

        return (fromType, toType) switch
        {
            (Int2, Int4 or Int8) or (Int4, Int8) or (Float4, Float8) => true,
            (Varchar, Text) or (Text, Varchar) => toModifier == -1 || toType == Text,
            (Int2 or Int4 or Int8, Numeric) => toModifier == -1 || Digits(toModifier) - Scale(toModifier) >= (fromType == Int2 ? 5 : fromType == Int4 ? 10 : 19),
            _ => false,
        };
    }

    private static int Digits(int modifier) => ((modifier - 4) >> 16) & 0xffff;

    private static int Scale(int modifier) => (modifier - 4) & 0x7ff;
}
