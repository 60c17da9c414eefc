package dev.flux.memory;

import dev.flux.feed.FeedServer;
import org.junit.jupiter.api.Test;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * A feed whose process runs out of file descriptors under a flood of connections must serve again once the
 * flood stops. The feed runs in a child JVM with a low descriptor limit, so the flood exhausts that JVM alone.
 */
class FeedConnectionFloodTest {
    private static final int DESCRIPTORS = 256;

    /** The child: a feed on a memory store, its port on stdout, until stdin closes. */
    public static final class FloodedFeed {
        public static void main(String[] args) throws IOException {
            try (InMemoryEventStore store = new InMemoryEventStore(); FeedServer feed = FeedServer.start(store)) {
                System.out.println(feed.port());
                System.out.flush();
                System.in.read();
            }
        }
    }

    @Test
    void aFeedFloodedWithConnectionsPastItsFileDescriptorsServesAgainOnceTheFloodStops() throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/bin/sh")) && System.getProperty("os.name").startsWith("Linux"),
                "needs a shell's ulimit to give the child few file descriptors");
        String java = ProcessHandle.current().info().command().orElseThrow();
        Process child = new ProcessBuilder("/bin/sh", "-c", "ulimit -n " + DESCRIPTORS + " && exec \"$0\" -cp \"$1\" \"$2\"",
                java, System.getProperty("java.class.path"), FloodedFeed.class.getName())
                .redirectError(ProcessBuilder.Redirect.INHERIT).start();
        try {
            int port = Integer.parseInt(new BufferedReader(new InputStreamReader(child.getInputStream(),
                    StandardCharsets.UTF_8)).readLine().strip());

            List<Socket> flood = new ArrayList<>();
            try {
                for (int i = 0; i < 2 * DESCRIPTORS; i++) {
                    Socket socket = new Socket();
                    flood.add(socket);
                    socket.connect(new InetSocketAddress("127.0.0.1", port), 2_000);
                }
            } catch (IOException backlogFull) {
                // a server that no longer accepts leaves later connections waiting: the flood is big enough
            } finally {
                for (Socket socket : flood) {
                    socket.close();
                }
            }

            HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(2)).build();
            HttpRequest head = HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/events/head"))
                    .timeout(Duration.ofSeconds(2)).build();
            long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(30);
            int status = 0;
            while (status != 200 && System.nanoTime() < deadline) {
                try {
                    status = http.send(head, HttpResponse.BodyHandlers.discarding()).statusCode();
                } catch (IOException notYet) {
                    Thread.sleep(100);
                }
            }
            assertTrue(status == 200, "the feed did not serve /events/head within 30 s of the flood's end");
        } finally {
            child.getOutputStream().close();
            if (!child.waitFor(10, TimeUnit.SECONDS)) {
                child.destroyForcibly();
            }
        }
    }
}
