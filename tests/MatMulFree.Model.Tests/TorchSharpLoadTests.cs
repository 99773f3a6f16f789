using TorchSharp;

namespace MatMulFree.Model.Tests;

public sealed class TorchSharpLoadTests
{
    [Fact]
    public void TorchSharp_NativeLibrary_LoadsAndRunsBackward()
    {
        var x = torch.ones(3, requires_grad: true);
        var y = (x * x).sum();
        y.backward();
        Assert.Equal(new float[] { 2, 2, 2 }, x.grad!.data<float>().ToArray());
    }
}
