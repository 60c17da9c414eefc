package dev.flux.memory;

import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertTrue;

/** curl, for the feed tests that check what a client other than the JDK's gets. */
final class Curl {
    /** What curl printed of an answer: its body and its HTTP status (0 when there was no answer). */
    record Answer(String body, int status) { }

    private Curl() {
    }

    /** Whether curl runs here; tests that need it assume so. */
    static boolean installed() {
        try {
            return new ProcessBuilder("curl", "--version").redirectErrorStream(true).start().waitFor(10, TimeUnit.SECONDS);
        } catch (IOException | InterruptedException e) {
            return false;
        }
    }

    /** Runs {@code curl -s -m 10} with {@code arguments} (a URL among them) and waits for it. */
    static Answer run(String... arguments) throws Exception {
        List<String> command = new ArrayList<>(List.of("curl", "-s", "-m", "10", "-w", "\n%{http_code}"));
        command.addAll(List.of(arguments));
        Process curl = new ProcessBuilder(command).start();
        String out = new String(curl.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertTrue(curl.waitFor(30, TimeUnit.SECONDS), "curl " + command + " did not end");
        int end = out.lastIndexOf('\n');
        return new Answer(out.substring(0, end), Integer.parseInt(out.substring(end + 1)));
    }
}
