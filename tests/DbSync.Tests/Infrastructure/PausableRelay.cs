using System.Net.Sockets;

namespace DbSync.Tests.Infrastructure;

/// <summary>
/// A TCP relay in front of the test server that can go silent: while paused it keeps every connection open and accepts
/// new ones, but forwards nothing either way, as a proxy or NAT whose far side went away does. Neither side sees an error.
/// </summary>
internal sealed class PausableRelay : TcpRelay
{
    private volatile bool _paused;

    public PausableRelay(string host, int port)
        : base(host, port) => Start();

    public bool Paused
    {
        get => _paused;
        set => _paused = value;
    }

    protected override async Task RelayAsync(TcpClient client, TcpClient server) =>
        await Task.WhenAny(PumpAsync(server.GetStream(), client.GetStream()), PumpAsync(client.GetStream(), server.GetStream()), Task.Delay(Timeout.Infinite, Stopping.Token));

    private async Task PumpAsync(Stream from, Stream to)
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                while (_paused && !Stopping.IsCancellationRequested)
                {
                    await Task.Delay(50);
                }

                var read = await from.ReadAsync(buffer, Stopping.Token);
                while (_paused && !Stopping.IsCancellationRequested)
                {
                    await Task.Delay(50);
                }

                if (read == 0)
                {
                    return;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), Stopping.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            // A side closed, or the relay stops.
        }
    }
}
