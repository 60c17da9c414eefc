package dev.flux.example.account;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.flux.FluxException;
import dev.flux.subscription.OffsetStore;

import java.io.IOException;
import java.math.BigInteger;
import java.nio.channels.FileChannel;
import java.nio.file.AtomicMoveNotSupportedException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.nio.file.StandardOpenOption;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.OptionalLong;
import java.util.TreeMap;

/**
 * The read side's model: every account's balance, kept from the feed's events.
 *
 * <p>It is also the subscription's {@link OffsetStore}: when the subscription stores its offset, the
 * balances are written with it, in one file replaced atomically ({@code balances.json}). So the
 * stored balances always include exactly the events up to the stored offset; after a crash the
 * events since then come again and are applied to the balances as they were at that offset. (A read
 * model that kept its data in one place and its offset in another could count an event twice or
 * never.) Without a file it lives in memory only.
 */
final class Balances implements OffsetStore {
    private final Path file;
    private final Map<String, Long> balances = new TreeMap<>();
    private long position;
    /** The position of the last event applied since the start (0 before one is). */
    private long applied;
    private boolean stored;

    Balances(Path file) {
        this.file = file;
        if (file != null && Files.exists(file)) {
            JsonNode saved;
            try {
                saved = Http.JSON.readTree(file.toFile());
            } catch (IOException | RuntimeException e) {
                throw unreadable(file, e.getMessage(), e);
            }
            // Read strictly: a position or balance taken as 0 (Jackson's asLong of anything else) would
            // replay the feed onto the balances held, or skip it, and count events twice or never.
            JsonNode storedPosition = saved == null ? null : saved.get("position");
            if (storedPosition == null || !storedPosition.isIntegralNumber() || !storedPosition.canConvertToLong()
                    || storedPosition.asLong() < 0) {
                throw unreadable(file, "'position' must be a whole number >= 0, was " + storedPosition, null);
            }
            JsonNode storedBalances = saved.get("balances");
            if (storedBalances == null || !storedBalances.isObject()) {
                throw unreadable(file, "'balances' must be an object of account ids and balances, was " + storedBalances, null);
            }
            storedBalances.fields().forEachRemaining(e -> {
                if (!e.getValue().isIntegralNumber() || !e.getValue().canConvertToLong()) {
                    throw unreadable(file, "the balance of account " + e.getKey() + " must be a whole number, was "
                            + e.getValue(), null);
                }
                balances.put(e.getKey(), e.getValue().asLong());
            });
            position = storedPosition.asLong();
            stored = true;
        } else if (file != null) {
            requireWritableDirectory(file);
        }
    }

    /**
     * Makes the model's directory, or refuses to start: a read side that only found out at its first save
     * would serve balances it can never store, retrying the save for good.
     */
    private static void requireWritableDirectory(Path file) {
        Path directory = file.toAbsolutePath().getParent();
        try {
            Files.createDirectories(directory);
        } catch (IOException e) {
            throw unwritable(file, e);
        }
        if (!Files.isWritable(directory)) {
            throw new FluxException("cannot store the balances read model in " + file + ": the directory " + directory
                    + " is not writable; make it writable, or give the read side another directory (--data)");
        }
    }

    private static FluxException unwritable(Path file, IOException e) {
        for (Path dir = file.toAbsolutePath().getParent(); dir != null; dir = dir.getParent()) {
            if (Files.exists(dir) && !Files.isDirectory(dir)) {
                return new FluxException("cannot store the balances read model in " + file + ": " + dir
                        + " is a file, not a directory; move it away, or give the read side another directory (--data)", e);
            }
        }
        return new FluxException("cannot store the balances read model in " + file + ": " + e, e);
    }

    private static FluxException unreadable(Path file, String what, Throwable cause) {
        return new FluxException("cannot read the balances read model from " + file + ": " + what
                + "; delete the file to rebuild the balances from the feed", cause);
    }

    synchronized void opened(String account, long at) {
        balances.putIfAbsent(account, 0L);
        applied = at;
    }

    synchronized void add(String account, long amount, long at) {
        balances.merge(account, amount, Long::sum);
        applied = at;
    }

    /**
     * The balances, their total and the position of the last event in them, taken together under the
     * lock: read one by one, an event applied in between made the total differ from the balances shown,
     * or the position from the events they hold.
     */
    synchronized Map<String, Object> view() {
        Map<String, Object> view = new LinkedHashMap<>();
        view.put("accounts", new TreeMap<>(balances));
        view.put("total", total());     // whole: the balances of a few accounts can pass the long range together
        view.put("position", Math.max(applied, position));
        return view;
    }

    synchronized Map<String, Long> snapshot() {
        return Map.copyOf(balances);
    }

    /** The sum of the balances, exact: each balance fits a long, their sum need not (two of Long.MAX_VALUE). */
    synchronized BigInteger total() {
        BigInteger total = BigInteger.ZERO;
        for (long balance : balances.values()) {
            total = total.add(BigInteger.valueOf(balance));
        }
        return total;
    }

    @Override
    public synchronized long load(String name) {
        OffsetStore.requireValid(name, 0);
        return position;
    }

    @Override
    public synchronized OptionalLong find(String name) {
        OffsetStore.requireValid(name, 0);
        return stored ? OptionalLong.of(position) : OptionalLong.empty();
    }

    @Override
    public synchronized void save(String name, long newPosition) {
        OffsetStore.requireValid(name, newPosition);
        if (file != null) {
            write(newPosition);
        }
        position = newPosition;     // only once written: a failed save leaves the offset stored before
        stored = true;
    }

    private void write(long newPosition) {
        ObjectNode json = Http.JSON.createObjectNode();
        json.put("position", newPosition);
        ObjectNode accounts = json.putObject("balances");
        balances.forEach(accounts::put);
        Path tmp = file.resolveSibling(file.getFileName() + ".tmp");
        try {
            Files.createDirectories(file.toAbsolutePath().getParent());
            try (FileChannel channel = FileChannel.open(tmp, StandardOpenOption.CREATE, StandardOpenOption.WRITE,
                    StandardOpenOption.TRUNCATE_EXISTING)) {
                channel.write(java.nio.ByteBuffer.wrap(Http.JSON.writeValueAsBytes(json)));
                channel.force(true);
            }
            try {
                Files.move(tmp, file, StandardCopyOption.ATOMIC_MOVE, StandardCopyOption.REPLACE_EXISTING);
            } catch (AtomicMoveNotSupportedException e) {
                Files.move(tmp, file, StandardCopyOption.REPLACE_EXISTING);
            }
        } catch (IOException e) {
            throw unwritable(file, e);
        }
    }

    /** A reset: the subscription starts over, so the balances do too. */
    @Override
    public synchronized void delete(String name) {
        OffsetStore.requireValid(name, 0);
        balances.clear();
        position = 0;
        applied = 0;
        stored = false;
        if (file != null) {
            try {
                Files.deleteIfExists(file);
            } catch (IOException e) {
                throw new FluxException("cannot delete " + file + ": " + e.getMessage(), e);
            }
        }
    }
}
