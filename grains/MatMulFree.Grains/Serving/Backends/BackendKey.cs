namespace MatMulFree.Grains.Serving.Backends;

/// <summary>
/// A backend grain's key, "{model}|{silo}" for the silo's own device, "{model}|{silo}|{device}" for
/// any other device it fronts (a remote node: "node:URL"): the model it serves, the parsable address
/// of the silo whose process holds the device (the placement director activates it there and
/// nowhere else), and which of that silo's devices it is. One backend per (model, device).
/// </summary>
public static class BackendKey
{
    public const char Separator = '|';

    /// <summary>The device name of a silo's own (in-process CPU) device; its keys keep the two-part form.</summary>
    public const string LocalDevice = "local";

    public static string Format(string model, string silo, string device = LocalDevice)
    {
        if (model.Contains(Separator))
            throw new ServingRequestException($"model name '{model}' must not contain '{Separator}'");
        if (device.Contains(Separator))
            throw new ServingRequestException($"device name '{device}' must not contain '{Separator}'");
        return device == LocalDevice ? $"{model}{Separator}{silo}" : $"{model}{Separator}{silo}{Separator}{device}";
    }

    public static (string Model, string Silo, string Device) Parse(string key)
    {
        int at = key.IndexOf(Separator);
        if (at <= 0 || at == key.Length - 1)
            throw new BackendUnavailableException($"'{key}' is not a backend key (expected MODEL{Separator}SILO[{Separator}DEVICE])");
        string rest = key[(at + 1)..];
        int second = rest.IndexOf(Separator);
        if (second < 0)
            return (key[..at], rest, LocalDevice);
        if (second == 0 || second == rest.Length - 1)
            throw new BackendUnavailableException($"'{key}' is not a backend key (expected MODEL{Separator}SILO[{Separator}DEVICE])");
        return (key[..at], rest[..second], rest[(second + 1)..]);
    }
}
