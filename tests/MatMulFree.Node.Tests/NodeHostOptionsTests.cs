using MatMulFree.Core;

namespace MatMulFree.Node.Tests;

/// <summary>The node process's flags, read once for both <c>mmf node</c> and <c>mmf-node</c>.</summary>
public sealed class NodeHostOptionsTests
{
    [Fact]
    public void NodeHostOptions_Parse_EveryFlagBothForms()
    {
        var options = NodeHostOptions.Parse(
            ["--device", "cpu", "--model", "m", "--port=5000", "--host", "0.0.0.0", "--token=t", "--max-sessions", "16", "--max-batch", "8"], "mmf-node");
        Assert.Equal(new NodeHostOptions { Model = "m", Port = 5000, Host = "0.0.0.0", Token = "t", MaxSessions = 16, MaxBatch = 8 }, options);
    }

    [Fact]
    public void NodeHostOptions_Parse_DefaultsAreMmfNodes()
    {
        var options = NodeHostOptions.Parse(["--model", "m", "--port", "5000"], "mmf-node")!;
        Assert.Equal(("cpu", "127.0.0.1", 1088, 64, (string?)null), (options.Device, options.Host, options.MaxSessions, options.MaxBatch, options.Token));
    }

    [Theory]
    [InlineData("--help")]
    [InlineData("-h")]
    public void NodeHostOptions_Parse_HelpIsNull(string help) => Assert.Null(NodeHostOptions.Parse(["--port", "5000", help], "mmf-node"));

    [Theory]
    [InlineData("--prot 5000", "unknown flag --prot for `mmf-node`; did you mean --port?")]
    [InlineData("--max-sesions=4", "unknown flag --max-sesions for `mmf-node`; did you mean --max-sessions?")]
    [InlineData("--gpu 1", "unknown flag --gpu for `mmf-node` (see `mmf-node --help`)")]
    [InlineData("--model m --port abc", "--port must be a whole number, got 'abc'")]
    [InlineData("--model m --port", "--port needs a value")]
    [InlineData("--model m --port 5000 extra", "unexpected argument 'extra'")]
    [InlineData("--device gpu --model m --port 5000", "--device must be cpu")]
    [InlineData("--port 5000", "--model is required")]
    [InlineData("--model m", "--port is required")]
    [InlineData("--model m --port 70000", "--port must be in 1..65535, got 70000")]
    [InlineData("--model m --port 5000 --host nowhere", "--host must be an IP address, got 'nowhere'")]
    [InlineData("--model m --port 5000 --max-batch 0", "--max-batch must be at least 1, got 0")]
    [InlineData("--model m --port 5000 --max-batch 8 --max-sessions 4", "--max-sessions must be at least --max-batch (8), got 4")]
    [InlineData("--model m --port 5000 --token=", "--token must not be empty")]
    public void NodeHostOptions_Parse_BadInputNamesIt(string args, string expected)
    {
        var e = Assert.Throws<MatMulFreeException>(() => NodeHostOptions.Parse(args.Split(' '), "mmf-node"));
        Assert.StartsWith(expected, e.Message, StringComparison.Ordinal);
    }
}
