package dev.flux.xodus;

import dev.flux.ConcurrencyConflictException;
import dev.flux.DuplicateEventIdException;
import dev.flux.EventData;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.StreamName;
import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.ByteIterable;

import java.nio.charset.StandardCharsets;
import java.util.List;
import java.util.UUID;

/**
 * One call of {@link XodusEventStore#append}: made and encoded on the caller's thread, checked and
 * written on the writer thread, its outcome read back by the caller once its batch has committed.
 */
final class Append implements GroupCommit.Work<AppendBatch> {
    private final String streamId;
    private final long expectedVersion;
    private final ByteIterable headKey;
    private final byte[] streamPrefix;
    private final byte[] categoryPrefix;
    private final UUID[] eventIds;
    private final ByteIterable[] eventIdKeys;
    private final byte[][] records;

    // Written by the writer thread before it completes the request; read by the caller after.
    private long actualVersion;
    private UUID duplicate;
    private long newVersion;

    /**
     * @param maxRecordBytes the largest event record the store's log can hold
     * @throws DuplicateEventIdException when an event id repeats in {@code events}
     * @throws FluxException             when an event's record is larger than {@code maxRecordBytes}; checked
     *                                   here, on the caller's thread, so that it cannot fail a whole batch
     */
    Append(Layout layout, String streamId, long expectedVersion, List<EventData> events, int maxRecordBytes) {
        this.streamId = streamId;
        this.expectedVersion = expectedVersion;
        byte[] stream = EventRecord.utf8(streamId);
        this.headKey = new ArrayByteIterable(stream);
        this.streamPrefix = Layout.prefix(stream);
        this.categoryPrefix = Layout.prefix(StreamName.category(streamId).getBytes(StandardCharsets.UTF_8));
        int count = events.size();
        this.eventIds = new UUID[count];
        this.eventIdKeys = new ByteIterable[count];
        this.records = new byte[count][];
        EventData.requireDistinctIds(streamId, events);
        for (int i = 0; i < count; i++) {
            EventData event = events.get(i);
            eventIds[i] = event.eventId();
            eventIdKeys[i] = layout.eventIdKey(event.eventId());
            records[i] = EventRecord.encode(streamId, stream, event, maxRecordBytes);
        }
    }

    @Override
    public int events() {
        return records.length;
    }

    @Override
    public boolean check(AppendBatch batch) {
        duplicate = null;
        actualVersion = batch.head(headKey, streamId);
        if (!ExpectedVersion.matches(expectedVersion, actualVersion)) {
            return false;
        }
        for (int i = 0; i < eventIds.length; i++) {
            if (batch.holds(eventIdKeys[i])) {
                duplicate = eventIds[i];
                return false;
            }
        }
        return true;
    }

    @Override
    public void write(AppendBatch batch) {
        Layout layout = batch.layout;
        long version = actualVersion;
        for (int i = 0; i < records.length; i++) {
            version++;
            long position = ++batch.lastPosition;
            EventRecord.seal(records[i], version, batch.recordedAt, batch.crc);
            ByteIterable positionValue = Layout.number(position);
            layout.events.put(batch.txn, layout.positionKey(position), new ArrayByteIterable(records[i]));
            layout.streamIndex.put(batch.txn, layout.key(streamPrefix, version), positionValue);
            layout.eventIndex.put(batch.txn, eventIdKeys[i], positionValue);
            layout.categoryIndex.put(batch.txn, layout.key(categoryPrefix, position), ByteIterable.EMPTY);
        }
        layout.streamHeads.put(batch.txn, headKey, Layout.number(version));
        newVersion = version;
    }

    /**
     * After the batch committed: the stream's new version.
     *
     * @throws ConcurrencyConflictException when the stream was not at the expected version
     * @throws DuplicateEventIdException    when an event id was taken
     */
    long outcome() {
        if (!ExpectedVersion.matches(expectedVersion, actualVersion)) {
            throw new ConcurrencyConflictException(streamId, expectedVersion, actualVersion);
        }
        if (duplicate != null) {
            throw new DuplicateEventIdException(streamId, duplicate);
        }
        return newVersion;
    }
}
