using System.Net;
using System.Net.Sockets;

namespace DbSync.Tests.Infrastructure;

/// <summary>
/// A TCP relay on a free loopback port in front of the test server, for faults of the network between DbSync and
/// PostgreSQL. It accepts each client, connects it to the server, and leaves what passes between them to a subclass.
/// </summary>
internal abstract class TcpRelay : IDisposable
{
    private readonly TcpListener _listener = new(IPAddress.Loopback, 0);
    private readonly string _host;
    private readonly int _port;

    protected TcpRelay(string host, int port) => (_host, _port) = (host, port);

    /// <summary>The relay's port on 127.0.0.1.</summary>
    public int Port => ((IPEndPoint)_listener.LocalEndpoint).Port;

    /// <summary>Cancelled when the relay is disposed.</summary>
    protected CancellationTokenSource Stopping { get; } = new();

    /// <summary>True when a new client is to be closed at once rather than relayed.</summary>
    protected virtual bool RefusesClients => false;

    /// <summary>Starts accepting; a subclass calls it at the end of its constructor, once its own state is set.</summary>
    protected void Start()
    {
        _listener.Start();
        _ = AcceptAsync();
    }

    /// <summary>Carries one client's traffic to and from <paramref name="server"/>; returns when either side is done.</summary>
    protected abstract Task RelayAsync(TcpClient client, TcpClient server);

    private async Task AcceptAsync()
    {
        while (!Stopping.IsCancellationRequested)
        {
            TcpClient client;
            try
            {
                client = await _listener.AcceptTcpClientAsync(Stopping.Token);
            }
            catch (Exception) when (Stopping.IsCancellationRequested)
            {
                return;
            }

            if (RefusesClients)
            {
                client.Dispose();
                continue;
            }

            _ = ConnectAsync(client);
        }
    }

    private async Task ConnectAsync(TcpClient client)
    {
        using var server = new TcpClient();
        using (client)
        {
            await server.ConnectAsync(_host, _port);
            await RelayAsync(client, server);
        }
    }

    public void Dispose()
    {
        Stopping.Cancel();
        _listener.Stop();
        Stopping.Dispose();
    }
}
