using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace MatMulFree.Model.Tests;

internal static class SingleThreadedTorch
{
    // The test shapes are tiny and the machine's two cores are shared: libtorch's spinning intra-op
    // threads then turn 2 ms steps into 100 ms ones. One thread keeps the tests fast and steady.
#pragma warning disable CA2255 // a test assembly is the application here, not a library
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize() => set_num_threads(1);
}
