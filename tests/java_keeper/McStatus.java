// A tiny Minecraft Java Edition status server for the keeper's end-to-end test:
// answers Handshake + Status Request with a status JSON, and Ping with Pong.
// It sets no SO_REUSEPORT itself: in shared-port mode hook_bind.so does that.
// Usage: java -cp DIR McStatus <host> <port> <motd>   (prints READY when listening)
import java.io.BufferedInputStream;
import java.io.ByteArrayOutputStream;
import java.io.DataInputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.nio.charset.StandardCharsets;

public final class McStatus {
    private McStatus() {
    }

    public static void main(String[] args) throws IOException {
        String host = args[0];
        int port = Integer.parseInt(args[1]);
        String motd = args[2].replace("\\", "\\\\").replace("\"", "\\\"");
        String json = "{\"version\":{\"name\":\"1.21.1\",\"protocol\":767},"
                + "\"players\":{\"max\":20,\"online\":0},"
                + "\"description\":{\"text\":\"" + motd + "\"}}";
        try (ServerSocket server = new ServerSocket()) {
            server.bind(new InetSocketAddress(host, port), 50);
            System.out.println("READY");
            System.out.flush();
            while (true) {
                Socket conn = server.accept();
                Thread worker = new Thread(() -> serve(conn, json));
                worker.setDaemon(true);
                worker.start();
            }
        }
    }

    private static void serve(Socket conn, String json) {
        try (Socket c = conn) {
            c.setSoTimeout(5000);
            DataInputStream in = new DataInputStream(new BufferedInputStream(c.getInputStream()));
            OutputStream out = c.getOutputStream();
            readPacket(in); // Handshake
            readPacket(in); // Status Request
            byte[] text = json.getBytes(StandardCharsets.UTF_8);
            ByteArrayOutputStream body = new ByteArrayOutputStream();
            writeVarInt(body, 0);
            writeVarInt(body, text.length);
            body.write(text);
            writeFrame(out, body.toByteArray());
            writeFrame(out, readPacket(in)); // Ping (id 1, Long) comes back as Pong
        } catch (IOException e) {
            // a client that went away: nothing to do
        }
    }

    private static byte[] readPacket(DataInputStream in) throws IOException {
        int length = readVarInt(in);
        if (length < 0 || length > 1 << 16) {
            throw new IOException("bad length");
        }
        byte[] data = new byte[length];
        in.readFully(data);
        return data;
    }

    private static int readVarInt(DataInputStream in) throws IOException {
        int value = 0;
        for (int shift = 0; shift < 35; shift += 7) {
            int b = in.readUnsignedByte();
            value |= (b & 0x7F) << shift;
            if ((b & 0x80) == 0) {
                return value;
            }
        }
        throw new IOException("VarInt too long");
    }

    private static void writeVarInt(OutputStream out, int value) throws IOException {
        int v = value;
        while ((v & ~0x7F) != 0) {
            out.write((v & 0x7F) | 0x80);
            v >>>= 7;
        }
        out.write(v);
    }

    private static void writeFrame(OutputStream out, byte[] body) throws IOException {
        ByteArrayOutputStream frame = new ByteArrayOutputStream();
        writeVarInt(frame, body.length);
        frame.write(body);
        out.write(frame.toByteArray());
        out.flush();
    }
}
