using System.Runtime.CompilerServices;
using static TorchSharp.torch;

namespace MatMulFree.Training.Tests;

internal static class SingleThreadedTorch
{
    // Tiny shapes on two shared cores: libtorch's spinning intra-op threads would make 2 ms steps 100 ms.
#pragma warning disable CA2255 // a test assembly is the application here, not a library
    [ModuleInitializer]
#pragma warning restore CA2255
    internal static void Initialize() => set_num_threads(1);
}
