namespace PgRelocate.Connections;

/// <summary>
/// The server's certificate failed one of libpq's checks. Thrown from the TLS handshake's validation
/// callback, so that <see cref="Db.Describe"/> can say which check failed and with which file, instead of
/// the driver's generic "the remote certificate was rejected".
/// </summary>
internal sealed class TlsVerificationException(string message) : Exception(message);
