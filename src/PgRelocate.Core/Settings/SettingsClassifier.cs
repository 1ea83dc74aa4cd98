namespace PgRelocate.Settings;

/// <summary>Which pg_settings differences matter, and whether an application would notice them.</summary>
internal static class SettingsClassifier
{
    // What changes results or session behaviour: rendering of dates, numbers and bytes, name lookup,
    // timeouts, isolation, the planner's choices, text search and locale-dependent formatting.
    private static readonly HashSet<string> BehaviourNames = new(StringComparer.OrdinalIgnoreCase)
    {
        "search_path", "TimeZone", "DateStyle", "IntervalStyle", "statement_timeout", "lock_timeout",
        "idle_in_transaction_session_timeout", "idle_session_timeout", "transaction_timeout", "work_mem",
        "default_transaction_isolation", "default_transaction_read_only", "default_transaction_deferrable",
        "standard_conforming_strings", "extra_float_digits", "bytea_output", "lc_messages", "lc_monetary",
        "lc_numeric", "lc_time", "default_text_search_config", "timezone_abbreviations", "xmlbinary", "xmloption",
        "row_security", "check_function_bodies", "array_nulls", "backslash_quote", "escape_string_warning",
        "quote_all_identifiers", "transform_null_equals", "default_table_access_method", "default_toast_compression",
        "temp_buffers", "jit", "plan_cache_mode", "random_page_cost", "seq_page_cost", "default_statistics_target",
        "from_collapse_limit", "join_collapse_limit", "constraint_exclusion", "cursor_tuple_fraction",
        "session_replication_role", "client_min_messages", "synchronous_commit", "gin_fuzzy_search_limit",
        "enable_partitionwise_join", "enable_partitionwise_aggregate", "max_parallel_workers_per_gather",
    };

    // Set by each client at connection time (psql, drivers), so they describe the capturing session.
    private static readonly HashSet<string> PerSession = new(StringComparer.OrdinalIgnoreCase)
    {
        "application_name", "client_encoding", "session_authorization", "role", "transaction_isolation",
        "transaction_read_only", "transaction_deferrable",
    };

    /// <summary>Null when a difference in this setting says nothing about the servers.</summary>
    public static SettingGroup? Classify(PgSetting setting)
    {
        // "internal" settings are read-only facts of the build or the cluster (server_version, block_size).
        if (PerSession.Contains(setting.Name) || string.Equals(setting.Context, "internal", StringComparison.Ordinal))
        {
            return null;
        }

        if (BehaviourNames.Contains(setting.Name) || setting.Name.StartsWith("enable_", StringComparison.Ordinal))
        {
            return SettingGroup.Behaviour;
        }

        return SettingGroup.Infrastructure;
    }

    /// <summary>True when the owner of a database may set it with ALTER DATABASE ... SET.</summary>
    public static bool OwnerMaySet(PgSetting setting) => string.Equals(setting.Context, "user", StringComparison.Ordinal);
}
