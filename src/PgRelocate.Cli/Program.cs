using PgRelocate.Cli;

return await Cli.RunAsync(args);
