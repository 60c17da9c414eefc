package dev.flux.example.account;

import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.ServerSocket;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The example's servers take connections up to a limit below the process's file descriptors and close the rest at
 * once: without one, a client that opened connections until none was left wedged the JDK's server for good. It
 * runs in a child JVM with few descriptors (256, so a limit of 128), so the flood exhausts that JVM alone.
 */
class ExampleConnectionLimitTest {
    private static final int DESCRIPTORS = 256;

    @Test
    void theCommandSideClosesConnectionsPastItsLimitAtOnceInsteadOfRunningOutOfFileDescriptors() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/sh")) && System.getProperty("os.name").startsWith("Linux"),
                "needs a shell's ulimit to give the child few file descriptors");
        int port;
        try (ServerSocket free = new ServerSocket(0)) {
            port = free.getLocalPort();
        }
        Process example = new ProcessBuilder("/bin/sh", "-c", "ulimit -n " + DESCRIPTORS
                + " && exec \"$0\" -cp \"$1\" \"$2\" --store memory --mode command --port \"$3\"",
                Path.of(System.getProperty("java.home"), "bin", "java").toString(), System.getProperty("java.class.path"),
                Main.class.getName(), String.valueOf(port)).redirectErrorStream(true).start();
        List<Socket> flood = new ArrayList<>();
        try {
            BufferedReader out = new BufferedReader(new InputStreamReader(example.getInputStream(), StandardCharsets.UTF_8));
            for (String line = out.readLine(); !line.startsWith("Ctrl-C"); line = out.readLine()) {
                assertTrue(line != null && !line.startsWith("flux example:"), "the example started: " + line);
            }
            try {
                for (int i = 0; i < DESCRIPTORS * 3 / 4; i++) {
                    Socket socket = new Socket();
                    flood.add(socket);
                    socket.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
                    socket.setSoTimeout(10);
                }
            } catch (IOException backlogFull) {
                // a server out of descriptors leaves later connections waiting
            }

            // Idle connections are closed by the JDK after 30 s at the soonest: one closed well before was over the limit.
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(10);
            int closed = 0;
            while (closed == 0 && System.nanoTime() < deadline) {
                for (Socket socket : flood) {
                    if (socket.isConnected() && isClosedByServer(socket)) {
                        closed++;
                    }
                }
            }
            assertTrue(closed > 0, "of " + flood.size() + " idle connections to a process of " + DESCRIPTORS
                    + " file descriptors, the server closed none at once: it has no connection limit below them");
        } finally {
            for (Socket socket : flood) {
                socket.close();
            }
            example.destroy();
            if (!example.waitFor(30, TimeUnit.SECONDS)) {
                example.destroyForcibly();
            }
        }
    }

    private static boolean isClosedByServer(Socket socket) {
        try {
            return socket.getInputStream().read() == -1;
        } catch (SocketTimeoutException open) {
            return false;
        } catch (IOException reset) {
            return true;
        }
    }
}
