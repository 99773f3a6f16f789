using MatMulFree.Core;
using MatMulFree.Node;

const string program = "mmf-node";
try
{
    if (NodeHostOptions.Parse(args, program) is not { } options)
    {
        Console.WriteLine(NodeHostOptions.Usage(program));
        return 0;
    }
    await NodeHost.RunAsync(options, Console.WriteLine);
    return 0;
}
catch (MatMulFreeException e)
{
    // Bad input, as in `mmf`: one line and exit code 2, no stack trace.
    Console.Error.WriteLine($"error: {e.Message}");
    return 2;
}
