using System.ComponentModel;
using MatMulFree.Storage;
using Spectre.Console.Cli;

namespace MatMulFree.Cli.Commands;

/// <summary>The option every <c>mmf store</c> command shares: which store a relative path is in.</summary>
public class StoreSettings : CommandSettings
{
    [CommandOption("--store <STORE>")]
    [Description("Store for relative paths: file:// URI or folder, http(s)://.../CONTAINER (Azure, Azurite), or a connection string " +
                 "(UseDevelopmentStorage=true[[;Container=NAME]]). Default: $MMF_STORE, else ~/.local/share/mmf/store.")]
    public string? Store { get; init; }

    /// <summary><paramref name="target"/> as a location: a full URI stands alone, a relative path is inside --store.</summary>
    public StoreLocation Resolve(string? target) => StoreLocation.Resolve(target, Store);
}
