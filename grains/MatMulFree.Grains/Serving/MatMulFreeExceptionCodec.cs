using System.Buffers;
using MatMulFree.Core;
using Orleans.Serialization;
using Orleans.Serialization.Buffers;
using Orleans.Serialization.Cloning;
using Orleans.Serialization.Serializers;

namespace MatMulFree.Grains.Serving;

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
