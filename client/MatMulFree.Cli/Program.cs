using MatMulFree.Cli;
using Spectre.Console.Cli;

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("mmf");
    config.SetExceptionHandler(CliErrors.Report);

    config.AddBranch("bench", bench =>
    {
        bench.SetDescription("Benchmarks (not tests): measure and print.");
    });
});
return await app.RunAsync(args);
