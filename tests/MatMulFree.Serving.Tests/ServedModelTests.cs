using MatMulFree.Silo;
using MatMulFree.Storage;

namespace MatMulFree.Serving.Tests;

/// <summary>A model served from a store: which bytes get served, and what a store that fails its check leaves behind.</summary>
public sealed class ServedModelTests : IDisposable
{
    private readonly DirectoryInfo _root = Directory.CreateTempSubdirectory("mmf-served-model-");

    public void Dispose() => _root.Delete(recursive: true);

    private string Folder(string name) => Path.Combine(_root.FullName, name);

    [Fact]
    public async Task ServedModel_Load_SameNameAndVersionInTwoStores_ServesEachStoresOwnModel()
    {
        string small = TestModels.CopyOfGolden("small");
        await new ModelStore(new LocalFolderBlobStore(Folder("a"))).PushAsync("relx", TestModels.TinyDirectory, "v1");
        await new ModelStore(new LocalFolderBlobStore(Folder("b"))).PushAsync("relx", small, "v1");

        using var fromA = ServedModel.Load($"file://{Folder("a")}/models/relx/v1", Folder("cache"));
        using var fromB = ServedModel.Load($"file://{Folder("b")}/models/relx/v1", Folder("cache"));
        using var tiny = ServedModel.Load(TestModels.TinyDirectory, Folder("cache"));
        using var expectedB = ServedModel.Load(small, Folder("cache"));

        Assert.Equal(tiny.Engine.IdentityHex, fromA.Engine.IdentityHex);
        Assert.Equal(expectedB.Engine.IdentityHex, fromB.Engine.IdentityHex);
    }

    [Fact]
    public async Task ServedModel_Load_StoreFailedItsCheckThenRepaired_ServesTheRepairedModel()
    {
        await new ModelStore(new LocalFolderBlobStore(Folder("store"))).PushAsync("relx", TestModels.TinyDirectory, "v1");
        string weights = Path.Combine(Folder("store"), "models", "relx", "v1", "model.safetensors");
        byte[] original = FlipOneByte(weights);

        var e = Assert.Throws<BlobIntegrityException>(() => ServedModel.Load($"{Folder("store")}/models/relx", Folder("cache")));
        await File.WriteAllBytesAsync(weights, original);
        using var repaired = ServedModel.Load($"{Folder("store")}/models/relx", Folder("cache"));
        using var tiny = ServedModel.Load(TestModels.TinyDirectory, Folder("cache"));

        Assert.Contains($"'models/relx/v1/model.safetensors' in store file://{Folder("store")}", e.Message);
        Assert.Equal(tiny.Engine.IdentityHex, repaired.Engine.IdentityHex);
    }

    [Fact]
    public async Task ServedModel_Load_PlainPathOfAStoreVersion_IsCheckedAgainstItsManifest()
    {
        // A local store's models/NAME/VERSION folder holds config.json like a model folder, but it is the store's.
        await new ModelStore(new LocalFolderBlobStore(Folder("store"))).PushAsync("relx", TestModels.TinyDirectory, "v1");
        FlipOneByte(Path.Combine(Folder("store"), "models", "relx", "v1", "model.safetensors"));

        var e = Assert.Throws<BlobIntegrityException>(() => ServedModel.Load($"{Folder("store")}/models/relx/v1", Folder("cache")));

        Assert.Contains("'models/relx/v1/model.safetensors'", e.Message);
    }

    [Fact]
    public async Task ServedModel_Load_PlainPathOfAnIncompleteStoreVersion_RefusedForWantOfAManifest()
    {
        // A push that died before its manifest: the files are there, but nothing vouches for them.
        await new ModelStore(new LocalFolderBlobStore(Folder("store"))).PushAsync("relx", TestModels.TinyDirectory, "v1");
        File.Delete(Path.Combine(Folder("store"), "models", "relx", "v1", StoreLayout.ManifestFile));

        var e = Assert.Throws<BlobNotFoundException>(() => ServedModel.Load($"{Folder("store")}/models/relx/v1", Folder("cache")));

        Assert.Contains("model 'relx' version 'v1' is not in store", e.Message);
    }

    /// <summary>Same length, one byte different (in the tensor data): only the SHA-256 check can tell.</summary>
    private static byte[] FlipOneByte(string file)
    {
        byte[] original = File.ReadAllBytes(file);
        byte[] changed = (byte[])original.Clone();
        changed[^100] ^= 0x01;
        File.WriteAllBytes(file, changed);
        return original;
    }
}
