using System.Net;
using System.Text;
using MatMulFree.Core;

namespace MatMulFree.Cli.Tests;

/// <summary>
/// An HTTP server on a free loopback port that answers one request with a fixed JSON body and
/// records what it was sent: a stand-in for a running <c>mmf serve</c> where a test checks only
/// what the client asks and how it prints the answer.
/// </summary>
internal sealed class OneRequestServer : IDisposable
{
    private readonly HttpListener _listener;
    private readonly Task<(string Path, string Body)> _request;

    public OneRequestServer(int status, string answer)
    {
        _listener = Listen(out int port);
        Url = $"http://127.0.0.1:{port}";
        _request = Task.Run(async () =>
        {
            var context = await _listener.GetContextAsync();
            using var reader = new StreamReader(context.Request.InputStream, Encoding.UTF8);
            string body = await reader.ReadToEndAsync();
            byte[] bytes = Encoding.UTF8.GetBytes(answer);
            context.Response.StatusCode = status;
            context.Response.ContentType = "application/json";
            await context.Response.OutputStream.WriteAsync(bytes);
            context.Response.Close();
            return (context.Request.Url!.AbsolutePath, body);
        });
    }

    public string Url { get; }

    /// <summary>The path and body of the request it answered.</summary>
    public Task<(string Path, string Body)> RequestAsync() => _request.WaitAsync(TimeSpan.FromMinutes(1));

    public void Dispose() => _listener.Close();

    // A port free a moment ago can be taken by another process before HttpListener binds it
    // (HttpListener cannot bind port 0 itself): take the next one then.
    private static HttpListener Listen(out int port)
    {
        for (int attempt = 1; ; attempt++)
        {
            port = LoopbackPorts.Free(1)[0];
            var listener = new HttpListener();
            listener.Prefixes.Add($"http://127.0.0.1:{port}/");
            try
            {
                listener.Start();
                return listener;
            }
            catch (HttpListenerException) when (attempt < 5)
            {
                listener.Close();
            }
        }
    }
}
