package dev.flux.xodus;

import jetbrains.exodus.ByteIterable;
import jetbrains.exodus.env.Transaction;

import java.time.Instant;
import java.util.zip.CRC32C;

/**
 * What the appends of one group commit share, on the writer thread: the transaction, the last
 * position given out so far, and the time recorded on every event of the batch. A Xodus transaction
 * reads its own writes, so an append's checks see the stream heads and event ids that the appends
 * before it in the same batch wrote: conflicts within a batch are caught exactly.
 */
final class AppendBatch {
    final Transaction txn;
    final Layout layout;
    /** To the millisecond, as every store records it (see {@code EventReader}). */
    final Instant recordedAt = Instant.ofEpochMilli(System.currentTimeMillis());
    final CRC32C crc;
    /** Names the store in messages. */
    final String owner;
    long lastPosition;

    AppendBatch(Transaction txn, Layout layout, long lastPosition, CRC32C crc, String owner) {
        this.txn = txn;
        this.layout = layout;
        this.lastPosition = lastPosition;
        this.crc = crc;
        this.owner = owner;
    }

    /**
     * The stream's version as of this batch, -1 when it has no events.
     *
     * @throws dev.flux.FluxException naming the stream, when its head is damaged
     */
    long head(ByteIterable streamKey, String streamId) {
        ByteIterable head = layout.streamHeads.get(txn, streamKey);
        return head == null ? -1 : Layout.headVersion(head, streamId, owner);
    }

    /** Whether the event id is in the store or earlier in this batch. */
    boolean holds(ByteIterable eventIdKey) {
        return layout.eventIndex.get(txn, eventIdKey) != null;
    }
}
