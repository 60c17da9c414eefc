package dev.flux.xodus;

import dev.flux.FluxException;
import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.ByteIterable;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.Store;
import jetbrains.exodus.env.StoreConfig;
import jetbrains.exodus.env.Transaction;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.List;
import java.util.UUID;

/**
 * The Xodus stores of an {@link XodusEventStore} and how their keys are made; the class Javadoc of
 * {@code XodusEventStore} describes the layout. Every store is a Patricia tree without duplicates
 * ({@link StoreConfig#WITHOUT_DUPLICATES_WITH_PREFIXING}): its commits rewrite far less than a
 * B-tree's. A name in a key is its UTF-8 bytes after their length (4 bytes), so no name's key is a
 * prefix of another's. Numbers in values are 8 bytes big-endian.
 *
 * <p>Numbers and event ids in keys are written big-endian, so keys sort as the numbers do, in one of
 * two ways, by the directory's layout version:
 * <ul>
 *   <li>{@value #FORMAT}, for every new directory: four bits to a byte (a number takes 16 bytes, an
 *   event id 32). A Patricia node has a child per distinct next byte, and a commit rewrites every node
 *   on the path to each key it puts, children and all. With whole bytes, a node on the path to the
 *   newest position holds up to 256 children, rewritten by every commit; with half-bytes, at most 16.
 *   Measured on raw Xodus with this store's five puts per event (16 streams, non-durable): 2.8 times
 *   fewer bytes written per one-event commit, 2.7 per 16-event commit, and 2.2 times as many 16-event
 *   commits per second.</li>
 *   <li>1, the first layout: 8 bytes to a number, 16 to an event id. Directories written so keep it,
 *   and are read and appended to as before.</li>
 * </ul>
 */
final class Layout {
    static final String EVENTS = "events";
    static final String STREAM_INDEX = "streamIndex";
    static final String EVENT_INDEX = "eventIndex";
    static final String CATEGORY_INDEX = "categoryIndex";
    static final String STREAM_HEADS = "streamHeads";
    static final String META = "meta";
    /** The layout version of a new event store directory, kept in {@link #META} under {@link #FORMAT_KEY}. */
    static final long FORMAT = 2;
    /** The oldest layout version an event store still reads and appends to. */
    static final long OLDEST_FORMAT = 1;
    /** The layout version of the offset and snapshot stores' directories (their keys hold no numbers). */
    static final long SINGLE_STORE_FORMAT = 1;
    static final ByteIterable FORMAT_KEY = new ArrayByteIterable("format".getBytes(StandardCharsets.US_ASCII));
    /** The kind of store the directory holds, kept in {@link #META}: the store class's simple name. */
    static final ByteIterable KIND_KEY = new ArrayByteIterable("kind".getBytes(StandardCharsets.US_ASCII));

    final Store events;
    final Store streamIndex;
    final Store eventIndex;
    final Store categoryIndex;
    final Store streamHeads;
    /** The directory's layout version: how numbers and event ids are written in keys. */
    final long format;
    /** Bits of a number in each byte of a key: 8 in layout 1, 4 after. */
    private final int bitsPerByte;
    /** Bytes a number takes in a key. */
    private final int numberLength;

    private Layout(Environment environment, Transaction txn, long format) {
        this.format = format;
        this.bitsPerByte = format == 1 ? 8 : 4;
        this.numberLength = Long.SIZE / bitsPerByte;
        events = open(environment, EVENTS, txn);
        streamIndex = open(environment, STREAM_INDEX, txn);
        eventIndex = open(environment, EVENT_INDEX, txn);
        categoryIndex = open(environment, CATEGORY_INDEX, txn);
        streamHeads = open(environment, STREAM_HEADS, txn);
    }

    /** Opens (or creates, in layout {@link #FORMAT}) the stores of an event store, in a directory {@link #stamp}ed for one. */
    static Layout open(Environment environment, Path directory) {
        return open(environment, directory, FORMAT);
    }

    /** As {@link #open(Environment, Path)}, a new directory getting layout {@code newFormat} (for tests of old layouts). */
    static Layout open(Environment environment, Path directory, long newFormat) {
        return environment.computeInExclusiveTransaction(txn -> {
            long format = stamp(environment, txn, "XodusEventStore", directory, newFormat, OLDEST_FORMAT, FORMAT);
            return new Layout(environment, txn, format);
        });
    }

    /**
     * Marks a new directory as holding {@code kind} (the store class's name) in layout {@code newFormat},
     * or checks that an old one does, in a layout from {@code oldest} to {@code newest}: a directory of
     * another kind, another layout version or someone else's Xodus stores is refused with a
     * {@link FluxException} naming it.
     *
     * @return the directory's layout version
     */
    static long stamp(Environment environment, Transaction txn, String kind, Path directory, long newFormat, long oldest,
                      long newest) {
        boolean fresh = !environment.storeExists(META, txn);
        Store meta = open(environment, META, txn);
        if (fresh) {
            List<String> others = environment.getAllStoreNames(txn).stream().filter(name -> !name.equals(META)).toList();
            if (!others.isEmpty()) {
                throw new FluxException(kind + " cannot use " + directory + ": it holds Xodus stores that flux did not write "
                        + others);
            }
            meta.put(txn, KIND_KEY, new ArrayByteIterable(kind.getBytes(StandardCharsets.UTF_8)));
            meta.put(txn, FORMAT_KEY, number(newFormat));
            return newFormat;
        }
        ByteIterable found = meta.get(txn, KIND_KEY);
        String foundKind = found == null ? "nothing flux knows"
                : new String(found.getBytesUnsafe(), 0, found.getLength(), StandardCharsets.UTF_8);
        if (!kind.equals(foundKind)) {
            throw new FluxException(kind + " cannot use " + directory + ": it holds " + foundKind + "; give each store its"
                    + " own directory");
        }
        ByteIterable format = meta.get(txn, FORMAT_KEY);
        long version = format == null || format.getLength() != 8 ? -1 : number(format);
        if (version < oldest || version > newest) {
            throw new FluxException(kind + " cannot use " + directory + ": it holds layout version " + version
                    + ", and this flux reads " + (oldest == newest ? "version " + newest : "versions " + oldest + " to " + newest)
                    + "; open it with the flux version that wrote it");
        }
        return version;
    }

    static Store open(Environment environment, String name, Transaction txn) {
        return environment.openStore(name, StoreConfig.WITHOUT_DUPLICATES_WITH_PREFIXING, txn);
    }

    /** 8 bytes, big-endian. */
    static ArrayByteIterable number(long n) {
        byte[] bytes = new byte[8];
        putLong(bytes, 0, n);
        return new ArrayByteIterable(bytes);
    }

    /** The number in an 8-byte value. */
    static long number(ByteIterable value) {
        if (value.getLength() != 8) {
            throw new IllegalStateException("expected an 8-byte number, found " + value.getLength() + " bytes");
        }
        return getLong(value.getBytesUnsafe(), 0);
    }

    /**
     * The version in a {@link #streamHeads} value.
     *
     * @param owner names the store in the message
     * @throws FluxException naming the stream, when the value is not an 8-byte version
     */
    static long headVersion(ByteIterable head, String streamId, String owner) {
        if (head.getLength() != 8) {
            throw new FluxException("Corrupt " + owner + ": the head of stream '" + streamId + "' is " + head.getLength()
                    + " bytes, not an 8-byte version; its files were changed outside flux or damaged. Restore the directory"
                    + " from a backup");
        }
        return number(head);
    }

    /**
     * The position in the {@link #streamIndex} value of {@code streamId}'s {@code version}. Read per event:
     * the message is made only when the value is damaged.
     *
     * @param owner names the store in the message
     * @throws FluxException naming the entry, when the value is not an 8-byte position
     */
    static long streamIndexPosition(ByteIterable value, String streamId, long version, String owner) {
        if (value.getLength() != 8) {
            throw damagedIndexEntry("the stream index entry of '" + streamId + "'@" + version, value, owner);
        }
        return number(value);
    }

    /**
     * The position in the {@link #eventIndex} value of {@code eventId}.
     *
     * @param owner names the store in the message
     * @throws FluxException naming the entry, when the value is not an 8-byte position
     */
    static long eventIndexPosition(ByteIterable value, UUID eventId, String owner) {
        if (value.getLength() != 8) {
            throw damagedIndexEntry("the event index entry of event " + eventId, value, owner);
        }
        return number(value);
    }

    private static FluxException damagedIndexEntry(String entry, ByteIterable value, String owner) {
        return new FluxException("Corrupt " + owner + ": " + entry + " is " + value.getLength() + " bytes, not an 8-byte"
                + " position; its files were changed outside flux or damaged. Restore the directory from a backup");
    }

    /** The 4-byte length and the UTF-8 bytes of a name, to put before a number in a key. */
    static byte[] prefix(byte[] name) {
        byte[] prefix = new byte[4 + name.length];
        putInt(prefix, 0, name.length);
        System.arraycopy(name, 0, prefix, 4, name.length);
        return prefix;
    }

    /** The key of a position in {@link #events}. */
    ArrayByteIterable positionKey(long position) {
        return key(NO_PREFIX, position);
    }

    /** The position an {@link #events} key holds. */
    long position(ByteIterable key) {
        long position = numberAfter(NO_PREFIX, key);
        if (position < 0) {
            throw new IllegalStateException("expected a " + numberLength + "-byte position key, found " + key.getLength()
                    + " bytes");
        }
        return position;
    }

    /** {@code prefix} followed by {@code n} as this layout writes numbers in keys. */
    ArrayByteIterable key(byte[] prefix, long n) {
        byte[] key = new byte[prefix.length + numberLength];
        System.arraycopy(prefix, 0, key, 0, prefix.length);
        putKeyNumber(key, prefix.length, n);
        return new ArrayByteIterable(key);
    }

    /** The number after {@code prefix} in {@code key}, or -1 when the key does not start with the prefix. */
    long numberAfter(byte[] prefix, ByteIterable key) {
        if (key.getLength() != prefix.length + numberLength) {
            return -1;
        }
        byte[] bytes = key.getBytesUnsafe();
        for (int i = 0; i < prefix.length; i++) {
            if (bytes[i] != prefix[i]) {
                return -1;
            }
        }
        int mask = (1 << bitsPerByte) - 1;
        long n = 0;
        for (int i = prefix.length; i < prefix.length + numberLength; i++) {
            n = (n << bitsPerByte) | (bytes[i] & mask);
        }
        return n;
    }

    /** The key of an event id in {@link #eventIndex}. */
    ArrayByteIterable eventIdKey(UUID eventId) {
        byte[] key = new byte[2 * numberLength];
        putKeyNumber(key, 0, eventId.getMostSignificantBits());
        putKeyNumber(key, numberLength, eventId.getLeastSignificantBits());
        return new ArrayByteIterable(key);
    }

    /** {@code n} big-endian, {@link #bitsPerByte} bits to a byte. */
    private void putKeyNumber(byte[] key, int offset, long n) {
        int mask = (1 << bitsPerByte) - 1;
        for (int i = offset + numberLength - 1; i >= offset; i--) {
            key[i] = (byte) (n & mask);
            n >>>= bitsPerByte;
        }
    }

    private static final byte[] NO_PREFIX = new byte[0];

    static void putLong(byte[] bytes, int offset, long n) {
        for (int i = 7; i >= 0; i--) {
            bytes[offset + i] = (byte) n;
            n >>>= 8;
        }
    }

    static long getLong(byte[] bytes, int offset) {
        long n = 0;
        for (int i = 0; i < 8; i++) {
            n = (n << 8) | (bytes[offset + i] & 0xFF);
        }
        return n;
    }

    static void putInt(byte[] bytes, int offset, int n) {
        bytes[offset] = (byte) (n >>> 24);
        bytes[offset + 1] = (byte) (n >>> 16);
        bytes[offset + 2] = (byte) (n >>> 8);
        bytes[offset + 3] = (byte) n;
    }

    static int getInt(byte[] bytes, int offset) {
        return (bytes[offset] & 0xFF) << 24 | (bytes[offset + 1] & 0xFF) << 16 | (bytes[offset + 2] & 0xFF) << 8
                | (bytes[offset + 3] & 0xFF);
    }
}
