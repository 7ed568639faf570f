// Test helper for tests/test_hook_bind.py: a UDP socket on a fixed port that
// answers every datagram with "<tag>:<payload>" sent back to its sender.
// It never sets SO_REUSEPORT itself; hook_bind.so does that.
// Usage: java UdpEcho <host> <port> <tag>
import java.io.IOException;
import java.net.DatagramPacket;
import java.net.DatagramSocket;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Arrays;

public final class UdpEcho {
    private UdpEcho() {
    }

    public static void main(String[] args) throws IOException {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        byte[] prefix = (args[2] + ":").getBytes(StandardCharsets.UTF_8);
        try (DatagramSocket socket = new DatagramSocket(new InetSocketAddress(host, port))) {
            System.out.println("READY " + socket.getLocalPort());
            System.out.flush();
            byte[] buf = new byte[2048];
            while (true) {
                DatagramPacket packet = new DatagramPacket(buf, buf.length);
                socket.receive(packet);
                byte[] reply = Arrays.copyOf(prefix, prefix.length + packet.getLength());
                System.arraycopy(buf, 0, reply, prefix.length, packet.getLength());
                socket.send(new DatagramPacket(reply, reply.length, packet.getSocketAddress()));
            }
        }
    }
}
