using System.Reflection;
using System.Text.RegularExpressions;
using PgRelocate.Catalog;

namespace PgRelocate.Tests;

/// <summary>
/// The rule of docs/architecture.md about the engine's public surface: a type of the engine is public only when the
/// command line names it or a public member of a type it names exposes it; every other type is internal.
/// </summary>
public partial class ArchitectureTests
{
    [Fact]
    public void Should_Make_Public_Only_The_Engine_Types_The_Command_Line_Needs()
    {
        var exported = typeof(CatalogSql).Assembly.GetExportedTypes().Where(t => !t.IsNested).ToList();
        var cli = string.Join("\n", CliFiles().Select(f => CodeOnly(File.ReadAllText(f))));
        var named = exported.Where(t => Regex.IsMatch(cli, $@"\b{Regex.Escape(BareName(t))}\b")).ToHashSet();

        var needed = new HashSet<Type>();
        var pending = new Queue<Type>(named);
        while (pending.Count > 0)
        {
            foreach (var used in ExposedBy(pending.Dequeue()).Where(u => u.Assembly == typeof(CatalogSql).Assembly))
            {
                var top = used;
                while (top.DeclaringType is not null)
                {
                    top = top.DeclaringType;
                }

                if (needed.Add(used) | needed.Add(top))
                {
                    pending.Enqueue(used);
                }
            }
        }

        // A class of extension methods is reached without its name, through the type its methods extend.
        var extending = exported.Where(t => t.IsAbstract && t.IsSealed && t.GetMethods(BindingFlags.Public | BindingFlags.Static)
            .Any(m => m.IsDefined(typeof(System.Runtime.CompilerServices.ExtensionAttribute)) && named.Contains(m.GetParameters()[0].ParameterType)));
        needed.UnionWith(extending);

        var surplus = exported.Where(t => !named.Contains(t) && !needed.Contains(t)).Select(t => t.FullName).Order().ToList();
        Assert.True(surplus.Count == 0, "public, but neither named by the command line nor exposed to it (make internal):\n" + string.Join("\n", surplus));
    }

    private static string BareName(Type type) => type.Name.Split('`')[0];

    /// <summary>The types a type's public and protected members, base type and interfaces show, generic arguments included.</summary>
    private static IEnumerable<Type> ExposedBy(Type type)
    {
        const BindingFlags Members = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly;
        var shown = new List<Type?> { type.BaseType };
        shown.AddRange(type.GetInterfaces());
        shown.AddRange(type.GetNestedTypes(BindingFlags.Public));
        foreach (var member in type.GetMembers(Members))
        {
            switch (member)
            {
                case FieldInfo f when f.IsPublic || f.IsFamily || f.IsFamilyOrAssembly:
                    shown.Add(f.FieldType);
                    break;
                case PropertyInfo p when p.GetAccessors().Any(a => a.IsPublic || a.IsFamily || a.IsFamilyOrAssembly):
                    shown.Add(p.PropertyType);
                    break;
                case MethodBase m when m.IsPublic || m.IsFamily || m.IsFamilyOrAssembly:
                    shown.AddRange(m.GetParameters().Select(p => p.ParameterType));
                    if (m is MethodInfo mi)
                    {
                        shown.Add(mi.ReturnType);
                    }

                    break;
                case EventInfo e when e.AddMethod is { IsPublic: true }:
                    shown.Add(e.EventHandlerType);
                    break;
            }
        }

        return shown.OfType<Type>().SelectMany(Unwrapped);
    }

    private static IEnumerable<Type> Unwrapped(Type type)
    {
        if (type.HasElementType)
        {
            return Unwrapped(type.GetElementType()!);
        }

        return type.IsGenericType
            ? type.GetGenericArguments().SelectMany(Unwrapped).Prepend(type.GetGenericTypeDefinition())
            : [type];
    }

    private static IEnumerable<string> CliFiles() =>
        Directory.GetFiles(Path.Combine(CoreRoot(), "..", "PgRelocate.Cli"), "*.cs", SearchOption.AllDirectories)
            .Where(f => !f.Contains($"{Path.DirectorySeparatorChar}obj{Path.DirectorySeparatorChar}", StringComparison.Ordinal)
                && !f.Contains($"{Path.DirectorySeparatorChar}bin{Path.DirectorySeparatorChar}", StringComparison.Ordinal));
}
