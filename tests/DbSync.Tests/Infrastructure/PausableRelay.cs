using System.Net;
using System.Net.Sockets;

namespace DbSync.Tests.Infrastructure;

/// <summary>
/// A TCP relay in front of the test server that can go silent: while paused it keeps every connection open and accepts
/// new ones, but forwards nothing either way, as a proxy or NAT whose far side went away does. Neither side sees an error.
/// </summary>
internal sealed class PausableRelay : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _host;
    private readonly int _port;
    private readonly CancellationTokenSource _stop = new();
    private volatile bool _paused;

    public PausableRelay(string host, int port)
    {
        (_host, _port) = (host, port);
        _listener.Start();
        _ = AcceptAsync();
    }

    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    public bool Paused
    {
        get => _paused;
        set => _paused = value;
    }

    private async Task AcceptAsync()
    {
        while (!_stop.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(_stop.Token);
            }
            catch (Exception) when (_stop.IsCancellationRequested)
            {
                return;
            }

            _ = RelayAsync(client);
        }
    }

    private async Task RelayAsync(TcpClient client)
    {
        using var server = new TcpClient();
        using (client)
        {
            await server.ConnectAsync(_host, _port);
            await Task.WhenAny(PumpAsync(server.GetStream(), client.GetStream()), PumpAsync(client.GetStream(), server.GetStream()), Task.Delay(Timeout.Infinite, _stop.Token));
        }
    }

    private async Task PumpAsync(Stream from, Stream to)
    {
        var buffer = new byte[65536];
        try
        {
            while (true)
            {
                while (_paused && !_stop.IsCancellationRequested)
                {
                    await Task.Delay(50);
                }

                var read = await from.ReadAsync(buffer, _stop.Token);
                while (_paused && !_stop.IsCancellationRequested)
                {
                    await Task.Delay(50);
                }

                if (read == 0)
                {
                    return;
                }

                await to.WriteAsync(buffer.AsMemory(0, read), _stop.Token);
            }
        }
        catch (Exception ex) when (ex is IOException or ObjectDisposedException or SocketException or OperationCanceledException)
        {
            // A side closed, or the relay stops.
        }
    }

    public void Dispose()
    {
        _stop.Cancel();
        _listener.Stop();
    }
}
