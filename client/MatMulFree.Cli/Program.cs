using System.Reflection;
using MatMulFree.Cli;
using MatMulFree.Cli.Commands;
using Spectre.Console;
using Spectre.Console.Cli;

ConsoleWidth.Apply(AnsiConsole.Profile);
var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("mmf");
    config.SetApplicationVersion(typeof(CliErrors).Assembly.GetCustomAttribute<AssemblyInformationalVersionAttribute>()?.InformationalVersion ?? "unknown");
    config.SetExceptionHandler((exception, resolver) => CliErrors.Report(exception, resolver, args));
    config.Settings.Registrar.RegisterInstance<ICommandInterceptor>(new UnknownFlagInterceptor());

    config.AddCommand<ScoreCommand>("score")
        .WithDescription("Mean next-token loss and perplexity of a model on data.");

    config.AddBranch("store", store =>
    {
        store.SetDescription("Models and checkpoints in blob storage: a local folder, Azure Blob Storage or Azurite.");
        store.AddCommand<StorePushCommand>("push").WithDescription("Upload a model folder as a new version (manifest written last).");
        store.AddCommand<StorePullCommand>("pull").WithDescription("Download a model version or checkpoint, every file verified.");
        store.AddCommand<StoreLsCommand>("ls").WithDescription("List the blobs under a store path.");
        store.AddCommand<StoreVerifyCommand>("verify").WithDescription("Re-hash every file under a path against its manifest.");
    });

    config.AddCommand<ConvertCommand>("convert").WithDescription("Convert latent weights to the engine's serving folder (packed ternary).");
    config.AddCommand<GenerateCommand>("generate").WithDescription("Generate text with the CPU engine, streamed.");

    config.AddCommand<TrainCommand>("train").WithDescription("Data-parallel training on Orleans: embedded silos or a running cluster.");
    config.AddBranch("data", data =>
    {
        data.SetDescription("Training data sets: text, folders or JSONL made into token shards.");
        data.AddCommand<DataPrepareCommand>("prepare").WithDescription("Text, folders or JSONL into token shards in a store.");
    });
    config.AddBranch("runs", runs =>
    {
        runs.SetDescription("Training runs: their checkpoints, status and loss curves.");
        runs.AddCommand<RunsListCommand>("ls").WithDescription("The runs of a store with their latest checkpoint and loss.");
        runs.AddCommand<RunsShowCommand>("show").WithDescription("A run's status, metrics and (--svg) loss curve.");
    });

    config.AddCommand<ServeCommand>("serve").WithDescription("Serve models over an OpenAI-compatible HTTP API from an embedded silo.");
    config.AddCommand<NodeCommand>("node").WithDescription("Serve one device over the node protocol (gRPC, mmf.node.v1) until Ctrl+C.");
    config.AddCommand<ChatCommand>("chat").WithDescription("Chat with a running `mmf serve`, streamed; --session resumes a conversation.");
    config.AddBranch<SessionsSettings>("sessions", sessions =>
    {
        sessions.SetDescription("Sessions on a running `mmf serve`.");
        sessions.AddCommand<SessionsLsCommand>("ls").WithDescription("List your sessions.");
        sessions.AddCommand<SessionsRmCommand>("rm").WithDescription("Delete sessions.");
    });

    config.AddBranch("bench", bench =>
    {
        bench.SetDescription("Benchmarks (not tests): measure and print.");
        bench.AddCommand<BenchTrainMemoryCommand>("train-memory").WithDescription("Training step memory and speed with and without BitLinear's recompute-in-backward.");
        bench.AddCommand<BenchDecodeCommand>("decode").WithDescription("CPU engine decode speed on random weights vs bandwidth and TorchSharp fp32.");
        bench.AddCommand<BenchServeCommand>("serve").WithDescription("Serving throughput at N sessions vs the engine's batched step, latency, idle-session memory.");
        bench.AddCommand<BenchStoreCommand>("store").WithDescription("Push and pull throughput (MB/s) of a model against a local Azurite it starts.");
    });
});
return await app.RunAsync(args);
