using MatMulFree.Core;
using MatMulFree.Node.Protocol;
using MatMulFree.Serving;

namespace MatMulFree.Silo;

/// <summary>
/// The remote nodes a silo fronts (<see cref="SiloSettings.Nodes"/>), connected at start-up: each
/// must answer its handshake and serve one of the silo's models, or the silo refuses to start with
/// one line naming the node (a typo in a URL is found at once, not by the first user).
/// </summary>
public static class NodeDevices
{
    // The health probe has a connection of its own with a short deadline: a hung node is seen
    // within a second, while the step connection keeps the protocol's long deadline (a long prefill
    // is not a dead node).
    private static readonly TimeSpan ProbeDeadline = TimeSpan.FromSeconds(1);

    /// <summary>The device name in a backend key: "node:" and the URL as given.</summary>
    public static string DeviceName(Uri node) => "node:" + node.OriginalString;

    /// <exception cref="MatMulFreeException">A node value that is no http(s) URL.</exception>
    public static Uri ParseAddress(string text)
    {
        if (!Uri.TryCreate(text, UriKind.Absolute, out var uri) || (uri.Scheme != Uri.UriSchemeHttp && uri.Scheme != Uri.UriSchemeHttps) || uri.Host.Length == 0)
            throw new MatMulFreeException($"node '{text}' is not an http:// or https:// URL (--node URL)");
        if (text.Contains(Grains.Serving.Backends.BackendKey.Separator))
            throw new MatMulFreeException($"node '{text}' must not contain '{Grains.Serving.Backends.BackendKey.Separator}'");
        return uri;
    }

    /// <summary>Connects to a node twice (steps, health probe) and checks it serves a model of <paramref name="models"/>.</summary>
    /// <exception cref="MatMulFreeException">The node cannot be reached, refuses the token or the protocol version, or serves no model of this silo.</exception>
    public static async Task<(ServedModel Model, RemoteDevice Steps, RemoteDevice Probe)> ConnectAsync(
        Uri node, string? token, IReadOnlyCollection<ServedModel> models, CancellationToken cancellationToken = default)
    {
        RemoteDevice? steps = null, probe = null;
        try
        {
            steps = await RemoteDevice.ConnectAsync(node, new RemoteDeviceOptions(token), cancellationToken);
            probe = await RemoteDevice.ConnectAsync(node, new RemoteDeviceOptions(token, CallTimeout: ProbeDeadline), cancellationToken);
            var loaded = steps.Model
                ?? throw new MatMulFreeException($"node {node.OriginalString} has no model loaded (start it with --model)");
            var model = models.FirstOrDefault(m => string.Equals(m.Engine.IdentityHex, loaded.Identity, StringComparison.OrdinalIgnoreCase))
                ?? throw new MatMulFreeException(
                    $"node {node.OriginalString} serves model {loaded.Identity}, which is none of this silo's models ({string.Join(", ", models.Select(m => $"{m.Name} {m.Engine.IdentityHex}"))})");
            return (model, steps, probe);
        }
        catch (Exception e)
        {
            steps?.Dispose();
            probe?.Dispose();
            if (e is DeviceUnavailableException)
                throw new MatMulFreeException($"--node: {e.Message}", e);
            throw;
        }
    }
}
