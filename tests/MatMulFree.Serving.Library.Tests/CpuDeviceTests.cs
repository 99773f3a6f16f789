namespace MatMulFree.Serving.Library.Tests;

/// <summary>The device contract on the CPU engine.</summary>
public sealed class CpuDeviceTests : DecodeDeviceContract
{
    protected override IDecodeDevice CreateDevice(int maxBatch, int maxSessions) => new CpuDevice(threads: 1, maxBatch, maxSessions);

    protected override bool ReportsEnergy => false;

    [Fact]
    public async Task CpuDevice_LoadAsync_RefusesAStoreUriByName()
    {
        using var device = new CpuDevice(threads: 1);
        var error = await Assert.ThrowsAsync<DeviceRequestException>(() => device.LoadAsync(new ModelSource("az://account/models/tiny", "1")));
        Assert.Equal(DeviceFault.BadModel, error.Fault);
        Assert.Contains("az://account/models/tiny", error.Message);
    }
}
