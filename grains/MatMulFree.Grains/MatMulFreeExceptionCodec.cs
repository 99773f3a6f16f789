using System.Buffers;
using MatMulFree.Core;
using Orleans.Serialization;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Cloning;
using Orleans.Serialization.Serializers;
using Microsoft.Extensions.DependencyInjection;

namespace MatMulFree.Grains;

/// <summary>
/// Lets exceptions derived from Core's MatMulFreeException cross grain calls with their type: the
/// generated codec of a <c>[GenerateSerializer]</c> exception needs a codec for its base class, and
/// Core knows nothing of Orleans, so the base is handled here as a plain Exception (message, stack, Data).
/// </summary>
[RegisterSerializer]
public sealed class MatMulFreeExceptionCodec(ExceptionCodec exceptions) : IBaseCodec<MatMulFreeException>
{
    public void Serialize<TBufferWriter>(ref Writer<TBufferWriter> writer, MatMulFreeException value) where TBufferWriter : IBufferWriter<byte> =>
        exceptions.Serialize(ref writer, value);

    public void Deserialize<TInput>(ref Reader<TInput> reader, MatMulFreeException value) =>
        exceptions.Deserialize(ref reader, value);
}

/// <summary>The deep-copy half of <see cref="MatMulFreeExceptionCodec"/> (Orleans copies arguments and results within a silo).</summary>
[RegisterCopier]
public sealed class MatMulFreeExceptionCopier(ExceptionCodec exceptions) : IBaseCopier<MatMulFreeException>
{
    public void DeepCopy(MatMulFreeException input, MatMulFreeException output, CopyContext context) =>
        exceptions.DeepCopy(input, output, context);
}

/// <summary>How silos and clients let the project's exceptions cross grain calls with their type.</summary>
public static class ProjectExceptions
{
    /// <summary>
    /// Lets Orleans' fallback exception codec carry types outside System/Microsoft (by default it
    /// fails the whole response with CodecNotFoundException). Silos and clients both call it, so a
    /// client gets the typed exception back.
    /// </summary>
    public static IServiceCollection AllowProjectExceptions(this IServiceCollection services) =>
        services.Configure<ExceptionSerializationOptions>(o =>
        {
            if (!o.SupportedNamespacePrefixes.Contains("MatMulFree.")) o.SupportedNamespacePrefixes.Add("MatMulFree.");
        });
}
