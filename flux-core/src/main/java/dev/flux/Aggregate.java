package dev.flux;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Map;

/**
 * The base class of event-sourced aggregates. A command method checks its rules and calls
 * {@link #update(Object)}; that applies the event to the aggregate's state through the method named
 * {@code handle} + the event class's simple name (any visibility, on the class or a superclass) and
 * buffers it; {@link #save()} appends the buffered events to the store.
 *
 * <pre>{@code
 * public class Account extends Aggregate {
 *     private long balance;
 *
 *     public void credit(long amount) {
 *         if (amount <= 0) throw new IllegalArgumentException("amount must be positive");
 *         update(new AccountCredited(amount));
 *     }
 *
 *     private void handleAccountCredited(AccountCredited e) { balance += e.amount(); }
 * }
 * }</pre>
 *
 * <p>Subclasses need a no-argument constructor (any visibility; a nested class is declared
 * {@code static}); {@link Repository} creates and replays them. Handlers only change state: they
 * must not throw for events that were recorded, since replay runs them again, nor call
 * {@code update}, nor may the constructor (such a call fails, in {@code update} or in a load, as
 * each load would apply the event again and each save store it again). An aggregate instance is not
 * thread-safe: load one per unit of work.
 */
public abstract class Aggregate {
    private final Handlers handlers = Handlers.of(getClass());
    private final EventBuffer uncommitted = new EventBuffer();
    /** Metadata of the uncommitted events at the same index; null while every one has none. */
    private List<Map<String, String>> uncommittedMetadata;
    private String id;
    private long version = ExpectedVersion.NO_STREAM;
    private Repository<?> repository;
    private long snapshotVersion = ExpectedVersion.NO_STREAM;
    /** What every event saved in this unit of work records beside its own metadata; empty for nothing. */
    private Map<String, String> unitMetadata = Map.of();

    protected Aggregate() {
    }

    /** The aggregate's id within its category; {@code null} until a {@link Repository} loads it. */
    public final String id() {
        return id;
    }

    /**
     * The version of the last committed event: -1 for a new aggregate, 0 after its first event.
     * {@link #update} does not move it; {@link #save()} does.
     */
    public final long version() {
        return version;
    }

    /** The events applied since the last load or save, in order; a read-only view. */
    public final List<Object> uncommittedEvents() {
        return Collections.unmodifiableList(uncommitted);
    }

    /**
     * Applies {@code event} to this aggregate's state through its handler and buffers it for
     * {@link #save()}.
     *
     * @throws IllegalArgumentException when the event is null
     * @throws MissingHandlerException  when this class has no {@code handle<EventName>} method for it;
     *                                  nothing is applied or buffered
     * @throws IllegalStateException    when the event's handler called {@code update} itself: neither event is
     *                                  buffered (the handlers' changes to the state stay, as below)
     * @throws RuntimeException         what the handler throws (a checked exception wrapped in a
     *                                  {@link FluxException}): the event is not buffered, but what the handler
     *                                  changed before it threw stays changed, so check a command's rules
     *                                  before calling {@code update}
     */
    public final void update(Object event) {
        if (event == null) {
            update(null, Map.of());     // throws, naming the aggregate
        }
        apply(event);
        uncommitted.add(event);
        if (uncommittedMetadata != null) {
            uncommittedMetadata.add(Map.of());
        }
    }

    /**
     * Like {@link #update(Object)}, with metadata recorded beside the event (see {@link Metadata}).
     *
     * @throws IllegalArgumentException when the event is null, or the metadata holds a null or a lone
     *                                  surrogate (see {@link Utf8}), which no store could save; nothing is
     *                                  applied or buffered
     * @throws MissingHandlerException  as {@link #update(Object)} does
     * @throws IllegalStateException    when called from a handler, as {@link #update(Object)} says
     * @throws RuntimeException         what the handler throws, as {@link #update(Object)} says
     */
    public final void update(Object event, Map<String, String> metadata) {
        if (event == null) {
            throw new IllegalArgumentException("event must not be null (aggregate " + getClass().getSimpleName() + " "
                    + id + ")");
        }
        if (metadata == null || metadata.isEmpty()) {
            apply(event);
            uncommitted.add(event);
            if (uncommittedMetadata != null) {
                uncommittedMetadata.add(Map.of());
            }
            return;
        }
        Map<String, String> checked = Metadata.checkedCopyOf(metadata, "event " + event.getClass().getSimpleName());
        apply(event);
        if (uncommittedMetadata == null) {
            uncommittedMetadata = new ArrayList<>(Collections.nCopies(uncommitted.size(), Map.of()));
        }
        uncommitted.add(event);
        uncommittedMetadata.add(checked);
    }

    /**
     * Runs the event's handler for {@code update}. A handler that called {@code update} itself is refused once it
     * returns, and what it buffered is dropped; so is what a handler that throws had buffered. The buffer's size
     * is all this takes on the way: no field is written for it.
     */
    private void apply(Object event) {
        int buffered = uncommitted.size();
        try {
            handlers.apply(this, event);
        } catch (RuntimeException | Error e) {
            dropAfter(buffered);
            throw e;
        }
        if (uncommitted.size() != buffered) {
            throw updatedInHandler(event, buffered);
        }
    }

    private IllegalStateException updatedInHandler(Object event, int buffered) {
        String running = event.getClass().getSimpleName();
        if (uncommitted.size() < buffered) {
            return new IllegalStateException(getClass().getSimpleName() + " " + id + ": the handler of " + running
                    + " saved the aggregate; handlers must only change state: save from command methods");
        }
        String nested = uncommitted.get(buffered).getClass().getSimpleName();
        dropAfter(buffered);
        return new IllegalStateException(getClass().getSimpleName() + " " + id + ": update(" + nested + ") was called"
                + " while the handler of " + running + " ran. Saved, " + nested + " would come before the " + running
                + " that led to it, and every load, replaying " + running + ", would apply it again and fail: handlers must"
                + " only change state; call update from command methods. Neither event is buffered");
    }

    /** Drops the uncommitted events after the first {@code count}, and their metadata. */
    private void dropAfter(int count) {
        if (uncommitted.size() > count) {
            uncommitted.truncate(count);
            if (uncommittedMetadata != null) {
                uncommittedMetadata.subList(count, uncommittedMetadata.size()).clear();
            }
        }
    }

    /**
     * Appends the uncommitted events to the store, atomically, expecting the stream at
     * {@link #version()}. On success the buffer clears and the version advances to the last event
     * saved; with nothing to save it does nothing.
     *
     * @throws ConcurrencyConflictException when another writer saved first; nothing was written and
     *                                      this aggregate is left as it was (reload it and retry)
     * @throws IllegalStateException        when the aggregate did not come from a {@link Repository}
     * @throws FluxException                when the store fails; the aggregate is left as it was. Whether
     *                                      the events were stored is then unknown: saving again stores them
     *                                      once, or throws {@code ConcurrencyConflictException} when they
     *                                      were (reload to see them)
     * @throws RuntimeException             what a listener of the repository's bus throws (see
     *                                      {@link Repository.Builder#publishTo}), a conflict of its own save
     *                                      included: the events are stored then
     */
    public final void save() {
        if (repository == null) {
            throw new IllegalStateException(getClass().getSimpleName()
                    + " was not created by a Repository: get it with repository.load(id) to save it");
        }
        saveThrough(repository);
    }

    /**
     * Like {@link #save()}, recording {@code metadata} beside each event saved, under an event's own entries (given to
     * {@link #update(Object, Map)}) where both have a key: say the correlation and causation ids of the request
     * or message that led to the command, so that its methods need not take them
     * ({@code account.save(Metadata.causedBy(correlationId, commandId))}). An empty map adds nothing.
     *
     * @throws IllegalArgumentException when the metadata is null or holds a null or a lone surrogate (see
     *                                  {@link Utf8}); nothing is saved and the aggregate is left as it was
     * @throws RuntimeException         as {@link #save()} does
     */
    public final void save(Map<String, String> metadata) {
        if (metadata == null) {
            throw new IllegalArgumentException("metadata must not be null (aggregate " + getClass().getSimpleName() + " "
                    + id + "); save() saves without");
        }
        Map<String, String> checked = Metadata.checkedCopyOf(metadata, "the save of " + getClass().getSimpleName() + " " + id);
        Map<String, String> before = unitMetadata;
        unitMetadata = Metadata.layered(before, checked);
        try {
            save();
        } finally {
            unitMetadata = before;
        }
    }

    /** What every event saved now records beside its own metadata (see {@link #save(Map)}); empty for nothing. */
    final Map<String, String> unitMetadata() {
        return unitMetadata;
    }

    final void unitMetadata(Map<String, String> metadata) {
        unitMetadata = metadata;
    }

    @SuppressWarnings("unchecked")
    private <A extends Aggregate> void saveThrough(Repository<A> owner) {
        owner.save((A) this);
    }

    /** The repository that loaded this aggregate; null when none did. */
    final Repository<?> repository() {
        return repository;
    }

    final void bind(Repository<?> owner, String aggregateId) {
        this.repository = owner;
        this.id = aggregateId;
    }

    final void replay(Object event, long eventVersion) {
        handlers.apply(this, event);
        version = eventVersion;
    }

    /** Sets the version after the state was restored from a snapshot of that version. */
    final void restoredFromSnapshot(long snapshotAt) {
        version = snapshotAt;
        snapshotVersion = snapshotAt;
    }

    /** The version of the snapshot this aggregate was loaded from or last saved, -1 when none. */
    final long snapshotVersion() {
        return snapshotVersion;
    }

    final void snapshotTaken(long at) {
        snapshotVersion = at;
    }

    final boolean hasUncommittedEvents() {
        return !uncommitted.isEmpty();
    }

    /** The metadata of the {@code index}-th uncommitted event. */
    final Map<String, String> uncommittedMetadata(int index) {
        return uncommittedMetadata == null ? Map.of() : uncommittedMetadata.get(index);
    }

    final void markCommitted(long newVersion) {
        uncommitted.clear();
        uncommittedMetadata = null;
        version = newVersion;
    }
}
