using MatMulFree.Cli;
using MatMulFree.Cli.Commands;
using Spectre.Console.Cli;

var app = new CommandApp();
app.Configure(config =>
{
    config.SetApplicationName("mmf");
    config.SetExceptionHandler(CliErrors.Report);

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

    config.AddBranch("bench", bench =>
    {
        bench.SetDescription("Benchmarks (not tests): measure and print.");
        bench.AddCommand<BenchTrainMemoryCommand>("train-memory").WithDescription("Training step memory and speed with and without BitLinear's recompute-in-backward.");
        bench.AddCommand<BenchDecodeCommand>("decode").WithDescription("CPU engine decode speed on random weights vs bandwidth and TorchSharp fp32.");
        bench.AddCommand<BenchStoreCommand>("store").WithDescription("Push and pull throughput (MB/s) of a model against a local Azurite it starts.");
    });
});
return await app.RunAsync(args);
