namespace MatMulFree.Grains.Serving;

/// <summary>The cluster's secret under which API keys are hashed into session owner ids (key: 0). Called by each silo's HTTP API once at start.</summary>
public interface IOwnerSecretGrain : IGrainWithIntegerKey
{
    Task<byte[]> GetAsync();
}
