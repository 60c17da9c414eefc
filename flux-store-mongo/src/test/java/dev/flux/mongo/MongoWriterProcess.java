package dev.flux.mongo;

import com.mongodb.client.MongoClient;
import com.mongodb.client.MongoClients;
import dev.flux.ConcurrencyConflictException;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;

import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.stream.Collectors;

/**
 * A writer process for {@link MongoMultiProcessTest}: appends to its own streams and to one stream
 * it shares with the other writers, and prints the ids of every acknowledged append.
 *
 * <p>Arguments: connection string, database, writer name, number of appends. Protocol on stdout:
 * {@code ready}, then after reading a line from stdin one {@code ok <id> <id>...} line per
 * acknowledged append, then {@code done <conflicts>}.
 */
public final class MongoWriterProcess {
    private MongoWriterProcess() {
    }

    public static void main(String[] args) throws Exception {
        String uri = args[0];
        String database = args[1];
        String writer = args[2];
        int appends = Integer.parseInt(args[3]);
        PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
        try (MongoClient client = MongoClients.create(MongoTestServer.settings(uri));
             MongoEventStore store = new MongoEventStore(client.getDatabase(database))) {
            out.println("ready");
            new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8)).readLine();
            int conflicts = 0;
            for (int i = 0; i < appends; i++) {
                List<EventData> batch = new ArrayList<>();
                for (int e = 0; e <= i % 3; e++) {
                    batch.add(EventData.of("Written", ("{\"writer\":\"" + writer + "\",\"i\":" + i + "}")
                            .getBytes(StandardCharsets.UTF_8), Map.of("writer", writer)));
                }
                if (i % 3 == 0) {
                    while (true) {
                        long version = store.streamVersion("shared-1");
                        try {
                            store.append("shared-1", version, batch);
                            break;
                        } catch (ConcurrencyConflictException conflict) {
                            conflicts++;
                        }
                    }
                } else {
                    store.append(writer + "-" + (i % 4), ExpectedVersion.ANY, batch);
                }
                out.println("ok " + batch.stream().map(event -> event.eventId().toString()).collect(Collectors.joining(" ")));
            }
            out.println("done " + conflicts);
        }
    }
}
