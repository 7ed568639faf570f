// Test helper for tests/test_hook_bind.py: a TCP server on a fixed port that
// answers each connection's first line with "<tag> <line>" and closes it.
// It never sets SO_REUSEPORT itself; hook_bind.so does that.
// Usage: java LineServer <host> <port> <tag>
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public final class LineServer {
    private LineServer() {
    }

    public static void main(String[] args) throws IOException {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String tag = args[2];
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(host, port), 50);
            System.out.println("READY " + server.getLocalPort());
            System.out.flush();
            while (true) {
                try (Socket conn = server.accept()) {
                    conn.setSoTimeout(5000);
                    BufferedReader in = new BufferedReader(
                            new InputStreamReader(conn.getInputStream(), StandardCharsets.UTF_8));
                    String line = in.readLine();
                    OutputStream out = conn.getOutputStream();
                    out.write((tag + " " + line + "\n").getBytes(StandardCharsets.UTF_8));
                    out.flush();
                } catch (IOException e) {
                    System.err.println("connection failed: " + e);
                }
            }
        }
    }
}
