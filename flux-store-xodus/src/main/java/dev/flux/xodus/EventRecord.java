package dev.flux.xodus;

import dev.flux.EventData;
import dev.flux.FluxException;
import dev.flux.RecordedEvent;
import dev.flux.Utf8;
import jetbrains.exodus.ByteIterable;

import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Instant;
import java.util.HashMap;
import java.util.Map;
import java.util.UUID;
import java.util.zip.CRC32C;

/**
 * One event as the bytes of a value in the {@code events} store:
 *
 * <pre>
 * offset  size  field
 *      0     1  record format, 1
 *      1     4  CRC32C of every byte after this field
 *      5     8  version in its stream
 *     13     8  recordedAt: seconds since the epoch
 *     21     4  recordedAt: nanoseconds, whole milliseconds of them (records from before the
 *                store recorded times to the millisecond may hold finer ones, read back as they are)
 *     25    16  event id
 *     41        stream id, then type: each a 4-byte length and UTF-8
 *               metadata: a 4-byte count, then each key and value as a 4-byte length and UTF-8
 *               data: a 4-byte length and the bytes
 * </pre>
 *
 * A caller {@linkplain #encode encodes} its events before it hands them to the writer thread, which
 * {@linkplain #seal seals} them with their version, time and checksum. Reading {@linkplain #decode
 * decodes} and checks them; a record that fails the check is reported naming its stream, version and
 * type as far as they can be read.
 */
final class EventRecord {
    static final byte FORMAT = 1;
    private static final int CRC_OFFSET = 1;
    private static final int VERSION_OFFSET = 5;
    private static final int SECONDS_OFFSET = 13;
    private static final int NANOS_OFFSET = 21;
    private static final int ID_OFFSET = 25;
    private static final int FIXED = 41;

    private EventRecord() {
    }

    /**
     * The record of {@code event} in stream {@code streamId} (its UTF-8 bytes), still without version,
     * time and checksum. Its size is checked before it is made: a record near 2 GB would overflow an
     * {@code int}, and one too large to store is not worth building.
     *
     * @param streamName the stream id, to name it when the event is too large
     * @param maxBytes   the largest record the store can hold
     * @throws FluxException when the record would be larger than {@code maxBytes}, naming the event
     */
    static byte[] encode(String streamName, byte[] streamId, EventData event, int maxBytes) {
        byte[] type = utf8(event.type());
        Map<String, String> metadata = event.metadata();
        byte[][] entries = new byte[metadata.size() * 2][];
        long size = FIXED + 4 + streamId.length + 4 + type.length + 4;
        int i = 0;
        for (Map.Entry<String, String> entry : metadata.entrySet()) {
            entries[i] = utf8(entry.getKey());
            entries[i + 1] = utf8(entry.getValue());
            size += 8 + entries[i].length + entries[i + 1].length;
            i += 2;
        }
        byte[] data = event.data();
        size += 4 + data.length;
        if (size > maxBytes) {
            throw new FluxException("Event " + event.eventId() + " (type '" + event.type() + "') to append to stream '"
                    + streamName + "' is " + size / 1024 + " KB with its stream id, type and metadata; an event in the"
                    + " Xodus store holds at most " + maxBytes / 1024 + " KB. Nothing was written. Store large payloads"
                    + " elsewhere and put a reference in the event");
        }

        byte[] record = new byte[(int) size];
        record[0] = FORMAT;
        Layout.putLong(record, ID_OFFSET, event.eventId().getMostSignificantBits());
        Layout.putLong(record, ID_OFFSET + 8, event.eventId().getLeastSignificantBits());
        int at = put(record, FIXED, streamId);
        at = put(record, at, type);
        Layout.putInt(record, at, metadata.size());
        at += 4;
        for (byte[] entry : entries) {
            at = put(record, at, entry);
        }
        put(record, at, data);
        return record;
    }

    /** Writes the version and time into an {@link #encode}d record, then its checksum. */
    static void seal(byte[] record, long version, Instant recordedAt, CRC32C crc) {
        Layout.putLong(record, VERSION_OFFSET, version);
        Layout.putLong(record, SECONDS_OFFSET, recordedAt.getEpochSecond());
        Layout.putInt(record, NANOS_OFFSET, recordedAt.getNano());
        crc.reset();
        crc.update(record, VERSION_OFFSET, record.length - VERSION_OFFSET);
        Layout.putInt(record, CRC_OFFSET, (int) crc.getValue());
    }

    /**
     * The event in a record, checked.
     *
     * @param streamId the stream an index said it is in, or null when read from the log
     * @param version  the version an index said it has, or -1
     * @throws FluxException naming the position, stream, version and type when the record is damaged
     */
    static RecordedEvent decode(long position, ByteIterable value, String streamId, long version, Path directory) {
        Reader reader = new Reader(value.getBytesUnsafe(), value.getLength());
        try {
            return reader.read(position, streamId, version);
        } catch (Corrupt | IllegalArgumentException e) {
            throw new FluxException("Corrupt event record in " + directory + " at position " + position + ": stream "
                    + describe(reader.streamId, streamId) + ", version " + describe(reader.version, version) + ", type "
                    + describe(reader.type, null) + ": " + e.getMessage()
                    + "; the store's files were changed outside flux or damaged on disk", e);
        }
    }

    private static String describe(Object read, Object indexed) {
        Object known = read != null ? read : indexed;
        if (known == null || Long.valueOf(-1).equals(known)) {
            return "unknown";
        }
        return known instanceof String ? "'" + known + "'" : known.toString();
    }

    /**
     * The UTF-8 bytes of {@code s}: text that core's checks let through ({@code StreamName},
     * {@code OffsetStore.requireValid}, {@code EventData}, {@code Snapshot}), which refuse the lone
     * surrogates UTF-8 cannot hold (see {@link Utf8}).
     */
    static byte[] utf8(String s) {
        return s.getBytes(StandardCharsets.UTF_8);
    }

    private static int put(byte[] record, int at, byte[] bytes) {
        Layout.putInt(record, at, bytes.length);
        System.arraycopy(bytes, 0, record, at + 4, bytes.length);
        return at + 4 + bytes.length;
    }

    /** A reason a record cannot be read. */
    private static final class Corrupt extends Exception {
        private static final long serialVersionUID = 1L;

        Corrupt(String reason) {
            super(reason, null, false, false);
        }
    }

    /** Reads a record in order, keeping what it has read so far for the message when the rest fails. */
    private static final class Reader {
        private final byte[] bytes;
        private final int length;
        private int at;
        String streamId;
        Long version;
        String type;

        Reader(byte[] bytes, int length) {
            this.bytes = bytes;
            this.length = length;
        }

        RecordedEvent read(long position, String indexedStream, long indexedVersion) throws Corrupt {
            if (length < FIXED) {
                throw new Corrupt("the record is " + length + " bytes, shorter than its " + FIXED + "-byte header");
            }
            if (bytes[0] != FORMAT) {
                throw new Corrupt("unknown record format " + bytes[0]);
            }
            version = Layout.getLong(bytes, VERSION_OFFSET);
            Instant recordedAt;
            try {
                recordedAt = Instant.ofEpochSecond(Layout.getLong(bytes, SECONDS_OFFSET), Layout.getInt(bytes, NANOS_OFFSET));
            } catch (RuntimeException e) {
                throw new Corrupt("its time is out of range");
            }
            UUID eventId = new UUID(Layout.getLong(bytes, ID_OFFSET), Layout.getLong(bytes, ID_OFFSET + 8));
            at = FIXED;
            streamId = string();
            type = string();
            CRC32C crc = new CRC32C();
            crc.update(bytes, VERSION_OFFSET, length - VERSION_OFFSET);
            if ((int) crc.getValue() != Layout.getInt(bytes, CRC_OFFSET)) {
                throw new Corrupt("its checksum does not match its bytes");
            }
            if (indexedStream != null && (!indexedStream.equals(streamId) || indexedVersion != version)) {
                throw new Corrupt("the stream index points here for stream '" + indexedStream + "' version " + indexedVersion);
            }
            int entries = Layout.getInt(bytes, need(4));
            if (entries < 0 || entries > (length - at) / 8) {
                throw new Corrupt("its metadata count " + entries + " does not fit the record");
            }
            Map<String, String> metadata = new HashMap<>();
            for (int i = 0; i < entries; i++) {
                metadata.put(string(), string());
            }
            byte[] data = chunk();
            if (at != length) {
                throw new Corrupt((length - at) + " bytes are left over after the data");
            }
            return new RecordedEvent(streamId, version, position, eventId, type, data, metadata, recordedAt);
        }

        private String string() throws Corrupt {
            int size = Layout.getInt(bytes, need(4));
            int start = need(size);
            return new String(bytes, start, size, StandardCharsets.UTF_8);
        }

        private byte[] chunk() throws Corrupt {
            int size = Layout.getInt(bytes, need(4));
            int start = need(size);
            byte[] chunk = new byte[size];
            System.arraycopy(bytes, start, chunk, 0, size);
            return chunk;
        }

        /** The offset of the next {@code size} bytes, which must be there. */
        private int need(int size) throws Corrupt {
            if (size < 0 || size > length - at) {
                throw new Corrupt("a field of " + size + " bytes at offset " + at + " runs past the record's "
                        + length + " bytes");
            }
            int start = at;
            at += size;
            return start;
        }
    }
}
