using MatMulFree.Core;
using MatMulFree.Engine;

namespace MatMulFree.Serving;

/// <summary>
/// <c>mmf score</c> on any device (a node, through <c>RemoteDevice</c>): each sequence of the
/// batch is a session, advanced one token per decode step, up to the device's batch capacity at
/// a time. The cross-entropies are summed in <see cref="EngineScorer"/>'s order (sequence by
/// sequence, position by position), so a device with the engine's arithmetic gives its loss to
/// the last bit.
/// </summary>
public static class DeviceScorer
{
    public static ScoreResult Score(IDecodeDevice device, long[,] inputIds)
    {
        var model = device.Model ?? throw new DeviceRequestException(DeviceFault.NotLoaded, $"{device.Kind} device: no model loaded");
        int batch = inputIds.GetLength(0), length = inputIds.GetLength(1), v = model.VocabSize;
        for (int b = 0; b < batch; b++)
            for (int t = 0; t < length; t++)
                if (inputIds[b, t] < 0 || inputIds[b, t] >= v)
                    throw new EngineException($"input_ids[{b}, {t}] = {inputIds[b, t]} is outside the vocabulary [0, {v})");
        int predicted = Math.Max(0, length - 1);
        var losses = new double[batch, predicted];
        int group = Math.Max(1, device.Capacity.MaxBatch);
        for (int first = 0; first < batch; first += group)
        {
            int n = Math.Min(group, batch - first);
            var sessions = new DeviceSession[n];
            int created = 0;
            try
            {
                for (; created < n; created++)
                    sessions[created] = device.CreateSession();
                var tokens = new int[n];
                var logits = new float[n * v];
                for (int t = 0; t < predicted; t++)
                {
                    for (int i = 0; i < n; i++)
                        tokens[i] = (int)inputIds[first + i, t];
                    device.Decode(sessions, tokens, logits);
                    for (int i = 0; i < n; i++)
                        losses[first + i, t] = EngineScorer.CrossEntropy(logits.AsSpan(i * v, v), (int)inputIds[first + i, t + 1]);
                }
            }
            finally
            {
                for (int i = 0; i < created; i++)
                    device.DropSession(sessions[i]);
            }
        }
        double total = 0;
        foreach (double loss in losses)
            total += loss; // row-major: EngineScorer's order
        long count = (long)batch * predicted;
        return new ScoreResult(count == 0 ? double.NaN : total / count, count);
    }
}
