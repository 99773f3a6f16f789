using MatMulFree.Silo;
using Microsoft.AspNetCore.Builder;

// The standalone silo: `dotnet MatMulFree.Silo.dll --Models DIR --HttpUrl http://127.0.0.1:8080
// [--ClusteringConnectionString CS --StorageConnectionString CS --SiloPort P --GatewayPort P]`
// (or MMF_-prefixed environment variables). `mmf serve` embeds the same host.
var builder = WebApplication.CreateBuilder(args);
builder.Configuration.AddEnvironmentVariables("MMF_");
var settings = SiloSettings.FromConfiguration(builder.Configuration);
builder.AddMatMulFreeSilo(settings);
var app = builder.Build();
app.MapMatMulFreeApi();
await app.RunAsync();
