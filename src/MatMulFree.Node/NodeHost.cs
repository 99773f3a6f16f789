using System.Net;
using MatMulFree.Core;
using MatMulFree.Node.Protocol;
using MatMulFree.Serving;

namespace MatMulFree.Node;

/// <summary>
/// A node process from start to stop: the device, its model and the server, one line once it
/// listens, then serving until SIGINT or SIGTERM. Both <c>mmf node</c> and the node executable run
/// this, so the two start and stop alike.
/// </summary>
public static class NodeHost
{
    /// <param name="options">Already validated (<see cref="NodeHostOptions.Parse"/> or <see cref="NodeHostOptions.Validate"/>).</param>
    /// <param name="ready">Gets the one line with the address; scripts and tests wait for it.</param>
    public static async Task RunAsync(NodeHostOptions options, Action<string> ready, CancellationToken cancellationToken = default)
    {
        string? token = options.Token ?? NullIfEmpty(Environment.GetEnvironmentVariable(NodeHostOptions.TokenVariable));
        var bind = IPAddress.Parse(options.Host);
        if (!IPAddress.IsLoopback(bind) && token is null)
            throw new MatMulFreeException($"--host {options.Host} without --token (or {NodeHostOptions.TokenVariable}) would serve anyone who can reach the port");
        if (!Directory.Exists(options.Model))
            throw new MatMulFreeException($"{options.Model}: model folder not found");

        using var device = new CpuDevice(maxBatch: options.MaxBatch, maxSessions: options.MaxSessions);
        var model = await device.LoadAsync(ModelSource.Folder(options.Model!), cancellationToken);
        await using var node = await NodeServer.StartAsync(device, new NodeOptions(options.Port, token) { Bind = bind }, cancellationToken);
        ready($"node listening on {node.Address.ToString().TrimEnd('/')}: {device.Kind} device, model {model.Identity} from {options.Model}, " +
            $"protocol mmf.node.v{NodeProtocol.Version}, {(token is null ? "no token" : "bearer token required")}; Ctrl+C stops");
        // The host's console lifetime turns SIGINT and SIGTERM into a graceful stop: open step streams end with UNAVAILABLE.
        await node.WaitForShutdownAsync(cancellationToken);
    }

    private static string? NullIfEmpty(string? s) => string.IsNullOrEmpty(s) ? null : s;
}
