package dev.flux.bus;

import dev.flux.FluxException;
import org.junit.jupiter.api.Test;

import java.io.IOException;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.function.BiConsumer;
import java.util.function.Consumer;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertNotEquals;
import static org.junit.jupiter.api.Assertions.assertNotNull;
import static org.junit.jupiter.api.Assertions.assertNull;
import static org.junit.jupiter.api.Assertions.assertSame;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class BusTest {
    interface AccountEvent { }

    record Opened(String id) implements AccountEvent { }

    record Credited(String id, long amount) implements AccountEvent { }

    record Open(String id) { }

    interface AdminCommand { }

    record Purge(String reason) implements AdminCommand { }

    record Balance(String id) implements Query<Long> { }

    /** Two classes with the same simple name: the bus must keep them apart. */
    static final class Other {
        record Opened(String id) { }
    }

    private final Bus bus = new Bus();
    private final List<String> seen = new ArrayList<>();

    @Test
    void publishReachesEveryListenerOfTheClassInSubscriptionOrder() {
        bus.subscribe(Opened.class, e -> seen.add("first " + e.id()));
        bus.subscribe(Credited.class, e -> seen.add("credited " + e.id()));
        bus.subscribe(Opened.class, e -> seen.add("second " + e.id()));

        bus.publish(new Opened("a"));

        assertEquals(List.of("first a", "second a"), seen);
    }

    @Test
    void listenersOfASupertypeOrObjectReceiveSubtypesInOneOrder() {
        bus.subscribe(Object.class, e -> seen.add("object"));
        bus.subscribe(AccountEvent.class, e -> seen.add("account"));
        bus.subscribe(Credited.class, e -> seen.add("credited " + e.amount()));

        bus.publish(new Credited("a", 5));
        bus.publish("not an account event");

        assertEquals(List.of("object", "account", "credited 5", "object"), seen);
    }

    @Test
    void messagesAreKeyedByClassNotBySimpleName() {
        bus.subscribe(Opened.class, e -> seen.add("ours"));
        bus.subscribe(Other.Opened.class, e -> seen.add("other"));

        bus.publish(new Other.Opened("x"));

        assertEquals(List.of("other"), seen);
    }

    @Test
    void aListenerExceptionStopsTheRestAndPropagates() {
        IllegalStateException boom = new IllegalStateException("boom");
        bus.subscribe(Opened.class, e -> seen.add("before"));
        bus.subscribe(Opened.class, e -> { throw boom; });
        bus.subscribe(Opened.class, e -> seen.add("after"));

        IllegalStateException thrown = assertThrows(IllegalStateException.class, () -> bus.publish(new Opened("a")));

        assertSame(boom, thrown);
        assertEquals(List.of("before"), seen);
    }

    @Test
    void aListenerThatPublishesHasThatEventDeliveredToEveryListenerBeforeTheNextOneGetsTheFirst() {
        bus.subscribe(Opened.class, e -> {
            seen.add("first " + e.id());
            bus.publish(new Credited(e.id(), 5));
        });
        bus.subscribe(AccountEvent.class, e -> seen.add("second " + e));

        bus.publish(new Opened("a"));

        assertEquals(List.of("first a", "second Credited[id=a, amount=5]", "second Opened[id=a]"), seen);
    }

    @Test
    void aPublishCallsTheListenersSubscribedWhenItBegan() {
        List<Runnable> unsubscribeLater = new ArrayList<>();
        bus.subscribe(Opened.class, e -> {
            seen.add("first " + e.id());
            bus.subscribe(Opened.class, later -> seen.add("new " + later.id()));
            unsubscribeLater.forEach(Runnable::run);
        });
        unsubscribeLater.add(bus.subscribe(Opened.class, e -> seen.add("leaving " + e.id())));

        bus.publish(new Opened("a"));
        bus.publish(new Opened("b"));

        assertEquals(List.of("first a", "leaving a", "first b", "new b"), seen);
    }

    @Test
    void unsubscribeStopsDelivery() {
        Runnable unsubscribe = bus.subscribe(Opened.class, e -> seen.add(e.id()));
        bus.publish(new Opened("a"));
        unsubscribe.run();
        bus.publish(new Opened("b"));

        assertEquals(List.of("a"), seen);
    }

    @Test
    void eachUnsubscribeRemovesItsOwnSubscriptionOnceEvenOfTheSameListener() {
        Consumer<Opened> listener = e -> seen.add("listener " + e.id());
        Runnable first = bus.subscribe(Opened.class, listener);
        bus.subscribe(Opened.class, e -> seen.add("other " + e.id()));
        Runnable third = bus.subscribe(Opened.class, listener);

        third.run();
        bus.publish(new Opened("a"));
        first.run();
        Runnable again = bus.subscribe(Opened.class, listener);
        first.run();    // a close that runs twice must not end the newer subscription
        third.run();
        bus.publish(new Opened("b"));
        again.run();
        bus.publish(new Opened("c"));

        assertEquals(List.of("listener a", "other a", "other b", "listener b", "other c"), seen);
    }

    @Test
    void aMethodReferenceToAnOverloadedMethodStillSubscribesWithoutContext() {
        // List.add has a two-argument form too: a subscribe overload taking a BiConsumer would make this ambiguous.
        bus.subscribe(String.class, seen::add);

        bus.publish("a");

        assertEquals(List.of("a"), seen);
    }

    @Test
    void aListenerWithContextGetsTheEventWithTheContextItWasPublishedWith() {
        EventContext context = new EventContext(UUID.randomUUID(), Map.of("correlation_id", "req-1"));
        List<EventContext> contexts = new ArrayList<>();
        bus.subscribeWithContext(Opened.class, (e, c) -> {
            seen.add("opened " + e.id());
            contexts.add(c);
        });

        bus.publish(new Opened("a"), context);

        assertEquals(List.of("opened a"), seen);
        assertEquals(List.of(context), contexts);
    }

    @Test
    void aPlainPublishGivesListenersWithContextOneNewIdForThatPublishAndNoMetadata() {
        List<EventContext> contexts = new ArrayList<>();
        bus.subscribeWithContext(Opened.class, (e, c) -> contexts.add(c));
        bus.subscribeWithContext(AccountEvent.class, (e, c) -> contexts.add(c));

        bus.publish(new Opened("a"));
        bus.publish(new Opened("b"));

        assertEquals(4, contexts.size());
        assertNotNull(contexts.get(0).eventId());
        assertEquals(Map.of(), contexts.get(0).metadata());
        assertSame(contexts.get(0), contexts.get(1), "one context per publish, the same for each of its listeners");
        assertNotEquals(contexts.get(0).eventId(), contexts.get(2).eventId(), "each publish its own id");
        assertSame(contexts.get(2), contexts.get(3));
    }

    @Test
    void listenersWithAndWithoutContextAreCalledInOneSubscriptionOrder() {
        EventContext context = new EventContext(UUID.randomUUID(), Map.of());
        bus.subscribe(Object.class, e -> seen.add("plain object"));
        bus.subscribeWithContext(AccountEvent.class, (e, c) -> seen.add("context account " + (c == context)));
        bus.subscribe(Opened.class, e -> seen.add("plain opened"));
        bus.subscribeWithContext(Opened.class, (e, c) -> seen.add("context opened " + (c == context)));
        bus.subscribeWithContext(Credited.class, (e, c) -> seen.add("context credited"));

        bus.publish(new Opened("a"), context);

        assertEquals(List.of("plain object", "context account true", "plain opened", "context opened true"), seen);
    }

    @Test
    void aListenerWithContextThatThrowsStopsTheRestOfEitherKindAndPropagates() {
        IllegalStateException boom = new IllegalStateException("boom");
        bus.subscribe(Opened.class, e -> seen.add("before"));
        bus.subscribeWithContext(Opened.class, (e, c) -> { throw boom; });
        bus.subscribe(Opened.class, e -> seen.add("after"));
        bus.subscribeWithContext(Opened.class, (e, c) -> seen.add("after with context"));

        IllegalStateException plain = assertThrows(IllegalStateException.class, () -> bus.publish(new Opened("a")));
        IllegalStateException withContext = assertThrows(IllegalStateException.class,
                () -> bus.publish(new Opened("b"), new EventContext(UUID.randomUUID(), Map.of())));

        assertSame(boom, plain);
        assertSame(boom, withContext);
        assertEquals(List.of("before", "before"), seen);
    }

    @Test
    void aListenerWithContextThatPublishesHasThatEventDeliveredWithItsOwnContextFirst() {
        EventContext first = new EventContext(UUID.randomUUID(), Map.of("n", "1"));
        EventContext second = new EventContext(UUID.randomUUID(), Map.of("n", "2"));
        bus.subscribeWithContext(Opened.class, (e, c) -> {
            seen.add("first " + e.id() + " " + c.metadata());
            bus.publish(new Credited(e.id(), 5), second);
        });
        bus.subscribeWithContext(AccountEvent.class, (e, c) -> seen.add("second " + e + " " + c.metadata()));

        bus.publish(new Opened("a"), first);

        assertEquals(List.of("first a {n=1}", "second Credited[id=a, amount=5] {n=2}", "second Opened[id=a] {n=1}"), seen);
    }

    @Test
    void unsubscribingAListenerWithContextStopsDeliveryToItAlone() {
        BiConsumer<Opened, EventContext> listener = (e, c) -> seen.add("listener " + e.id());
        Runnable first = bus.subscribeWithContext(Opened.class, listener);
        bus.subscribeWithContext(Opened.class, listener);

        first.run();
        bus.publish(new Opened("a"));
        first.run();
        bus.publish(new Opened("b"));

        assertEquals(List.of("listener a", "listener b"), seen);
    }

    @Test
    void anEventContextKeepsItsOwnCopyOfTheMetadata() {
        Map<String, String> metadata = new HashMap<>(Map.of("user", "ana"));
        EventContext context = new EventContext(UUID.randomUUID(), metadata);

        metadata.put("user", "bo");

        assertEquals(Map.of("user", "ana"), context.metadata());
        assertThrows(UnsupportedOperationException.class, () -> context.metadata().put("user", "cy"));
    }

    @Test
    void aPlainPublishAndATwoArgumentContextHoldNoStreamAndVersionMinusOne() {
        EventContext given = new EventContext(UUID.randomUUID(), Map.of("user", "ana"));
        List<EventContext> contexts = new ArrayList<>();
        bus.subscribeWithContext(Opened.class, (e, c) -> contexts.add(c));

        bus.publish(new Opened("a"));
        bus.publish(new Opened("b"), given);

        assertEquals(2, contexts.size());
        for (EventContext context : contexts) {
            assertNull(context.streamId());
            assertEquals(-1, context.version());
            assertNull(context.aggregateId());
        }
    }

    @Test
    void aContextWithAStreamHoldsItsStreamVersionAndAggregateId() {
        UUID id = UUID.randomUUID();

        EventContext context = new EventContext(id, Map.of(), "Account-42+7", 3);

        assertEquals("Account-42+7", context.streamId());
        assertEquals(3, context.version());
        assertEquals("42+7", context.aggregateId());
        assertEquals("", new EventContext(id, Map.of(), "Account", 0).aggregateId(), "a stream without '-' has no id part");
    }

    @Test
    void contextsAreEqualWhenTheirIdMetadataStreamAndVersionAre() {
        UUID id = UUID.randomUUID();
        EventContext saved = new EventContext(id, Map.of("n", "1"), "Account-42", 3);

        assertEquals(saved, new EventContext(id, Map.of("n", "1"), "Account-42", 3));
        assertEquals(saved.hashCode(), new EventContext(id, Map.of("n", "1"), "Account-42", 3).hashCode());
        assertEquals(new EventContext(id, Map.of()), new EventContext(id, Map.of(), null, -1));
        assertNotEquals(saved, new EventContext(id, Map.of("n", "1"), "Account-43", 3));
        assertNotEquals(saved, new EventContext(id, Map.of("n", "1"), "Account-42", 4));
        assertNotEquals(saved, new EventContext(id, Map.of("n", "1")));
    }

    @Test
    void aBlankStreamANegativeVersionInAStreamAndAVersionWithoutAStreamAreRefusedNamingWhatWasWrong() {
        UUID id = UUID.randomUUID();

        IllegalArgumentException blank = assertThrows(IllegalArgumentException.class,
                () -> new EventContext(id, Map.of(), " ", 0));
        IllegalArgumentException negative = assertThrows(IllegalArgumentException.class,
                () -> new EventContext(id, Map.of(), "Account-42", -1));
        IllegalArgumentException noStream = assertThrows(IllegalArgumentException.class,
                () -> new EventContext(id, Map.of(), null, 0));

        assertTrue(blank.getMessage().contains("streamId") && blank.getMessage().contains(id.toString()), blank.getMessage());
        assertTrue(negative.getMessage().contains("version") && negative.getMessage().contains("Account-42")
                && negative.getMessage().contains("-1"), negative.getMessage());
        assertTrue(noStream.getMessage().contains("version 0") && noStream.getMessage().contains("streamId is null"),
                noStream.getMessage());
    }

    @Test
    void nullsInListenersWithContextAndInContextsAreRefusedNamingWhat() {
        UUID id = UUID.randomUUID();
        Map<String, String> withNull = new HashMap<>();
        withNull.put("user", null);

        IllegalArgumentException noClass = assertThrows(IllegalArgumentException.class,
                () -> bus.subscribeWithContext(null, (e, c) -> { }));
        IllegalArgumentException noListener = assertThrows(IllegalArgumentException.class,
                () -> bus.subscribeWithContext(Opened.class, null));
        IllegalArgumentException primitive = assertThrows(IllegalArgumentException.class,
                () -> bus.subscribeWithContext(int.class, (e, c) -> { }));
        IllegalArgumentException noEvent = assertThrows(IllegalArgumentException.class,
                () -> bus.publish(null, new EventContext(id, Map.of())));
        IllegalArgumentException noContext = assertThrows(IllegalArgumentException.class,
                () -> bus.publish(new Opened("a"), null));
        IllegalArgumentException noId = assertThrows(IllegalArgumentException.class, () -> new EventContext(null, Map.of()));
        IllegalArgumentException noMetadata = assertThrows(IllegalArgumentException.class, () -> new EventContext(id, null));
        IllegalArgumentException nullValue = assertThrows(IllegalArgumentException.class, () -> new EventContext(id, withNull));

        assertTrue(noClass.getMessage().contains("eventClass"), noClass.getMessage());
        assertTrue(noListener.getMessage().contains("listener"), noListener.getMessage());
        assertTrue(primitive.getMessage().contains("int"), primitive.getMessage());
        assertTrue(noEvent.getMessage().contains("event"), noEvent.getMessage());
        assertTrue(noContext.getMessage().contains("context"), noContext.getMessage());
        assertTrue(noId.getMessage().contains("eventId"), noId.getMessage());
        assertTrue(noMetadata.getMessage().contains("metadata") && noMetadata.getMessage().contains(id.toString()),
                noMetadata.getMessage());
        assertTrue(nullValue.getMessage().contains("user") && nullValue.getMessage().contains(id.toString()),
                nullValue.getMessage());
    }

    @Test
    void aCommandGoesToExactlyItsOneHandler() {
        bus.register(Open.class, c -> seen.add("open " + c.id()));

        bus.dispatch(new Open("42"));

        assertEquals(List.of("open 42"), seen);
    }

    @Test
    void aCommandWithNoHandlerIsAnErrorNamingItsClass() {
        HandlerNotFoundException e = assertThrows(HandlerNotFoundException.class, () -> bus.dispatch(new Open("1")));

        assertEquals(Open.class, e.messageClass());
        assertTrue(e.getMessage().contains(Open.class.getName()), e.getMessage());
    }

    @Test
    void aSecondHandlerForTheSameCommandIsRefusedNotSwapped() {
        bus.register(Open.class, c -> seen.add("first"));

        IllegalStateException e = assertThrows(IllegalStateException.class,
                () -> bus.register(Open.class, c -> seen.add("second")));
        bus.dispatch(new Open("1"));

        assertTrue(e.getMessage().contains(Open.class.getName()), e.getMessage());
        assertEquals(List.of("first"), seen);
    }

    @Test
    void unregisteringFreesTheClassForANewHandler() {
        Runnable unregister = bus.register(Open.class, c -> seen.add("first"));
        unregister.run();
        assertThrows(HandlerNotFoundException.class, () -> bus.dispatch(new Open("1")));

        bus.register(Open.class, c -> seen.add("second"));
        bus.dispatch(new Open("1"));

        assertEquals(List.of("second"), seen);
    }

    @Test
    void aHandlerOfASupertypeTakesCommandsWithoutTheirOwn() {
        bus.register(AdminCommand.class, c -> seen.add("admin " + c));
        bus.register(Object.class, c -> seen.add("anything"));

        bus.dispatch(new Purge("old"));
        bus.dispatch(new Open("1"));

        assertEquals(List.of("admin Purge[reason=old]", "anything"), seen);
    }

    @Test
    void aResolvedSupertypeHandlerGivesWayToOneRegisteredLaterAndComesBackWhenItLeaves() {
        Runnable admin = bus.register(AdminCommand.class, c -> seen.add("admin"));
        assertThrows(HandlerNotFoundException.class, () -> bus.dispatch(new Open("1")));
        bus.dispatch(new Purge("old"));

        Runnable purge = bus.register(Purge.class, c -> seen.add("purge"));
        Runnable anything = bus.register(Object.class, c -> seen.add("anything"));
        bus.dispatch(new Purge("old"));
        bus.dispatch(new Open("1"));
        purge.run();
        bus.dispatch(new Purge("old"));
        admin.run();
        anything.run();

        assertEquals(List.of("admin", "purge", "anything", "admin"), seen);
        assertThrows(HandlerNotFoundException.class, () -> bus.dispatch(new Purge("old")));
    }

    @Test
    void aMessageClassWithoutAnExactHandlerIsResolvedOnceNotByAScanPerDispatch() {
        bus.register(AdminCommand.class, c -> { });
        for (int i = 0; i < 1_000; i++) {
            bus.dispatch(new Purge("old"));
        }
        assertEquals(1, bus.scans(), "Purge resolved to its supertype's handler once");

        bus.register(String.class, c -> { });
        for (int i = 0; i < 1_000; i++) {
            bus.dispatch(new Purge("old"));
        }
        assertEquals(2, bus.scans(), "once more after a registration, among the handlers registered now");
    }

    @Test
    void aHandlerUnregisteredWhileAnotherThreadDispatchesIsNeverRunAgain() throws Exception {
        // A resolution cached apart from the table it was made from could outlive a racing unregister: a dispatch
        // on another thread that found Purge's handler, and stored it after the unregister had cleared the cache,
        // would have every later Purge run the handler unregistered.
        Thread caller = Thread.currentThread();
        List<String> afterUnregister = new CopyOnWriteArrayList<>();
        bus.register(AdminCommand.class, c -> { });
        AtomicBoolean registering = new AtomicBoolean(true);
        Thread dispatcher = new Thread(() -> {
            while (registering.get()) {
                bus.dispatch(new Purge("old"));
            }
        });
        dispatcher.start();
        try {
            for (int i = 0; i < 50_000; i++) {
                int registration = i;
                Runnable purge = bus.register(Purge.class, c -> {
                    if (Thread.currentThread() == caller) {
                        afterUnregister.add("purge handler " + registration);
                    }
                });
                purge.run();
                bus.dispatch(new Purge("old"));
            }
        } finally {
            registering.set(false);
            dispatcher.join(10_000);
        }
        bus.register(Purge.class, c -> seen.add("purge"));

        bus.dispatch(new Purge("old"));

        assertEquals(List.of(), afterUnregister, "handlers run by this thread's dispatches after their unregister");
        assertEquals(List.of("purge"), seen);
    }

    @Test
    void handlersOfUnrelatedSupertypesAreAmbiguous() {
        bus.register(AdminCommand.class, c -> seen.add("admin"));
        bus.register(Query.class, c -> seen.add("query"));
        record Both() implements AdminCommand, Query<String> { }

        FluxException e = assertThrows(FluxException.class, () -> bus.dispatch(new Both()));

        assertTrue(e.getMessage().contains("several unrelated supertypes"), e.getMessage());
        assertEquals(List.of(), seen);
    }

    @Test
    void aQueryReturnsItsHandlersAnswer() {
        bus.registerQuery(Balance.class, q -> q.id().equals("a") ? 100L : 0L);

        long balance = bus.ask(new Balance("a"));

        assertEquals(100L, balance);
        assertEquals(0L, bus.ask(new Balance("b")));
    }

    @Test
    void aQueryWithNoHandlerIsAnError() {
        assertThrows(HandlerNotFoundException.class, () -> bus.ask(new Balance("a")));
    }

    @Test
    void aQueryHandlerMayAnswerNull() {
        bus.registerQuery(Balance.class, q -> null);

        assertNull(bus.ask(new Balance("a")));
    }

    @Test
    void aCommandHandlerOfObjectDoesNotAnswerQueriesWithNull() {
        bus.register(Object.class, c -> seen.add("audited " + c));

        HandlerNotFoundException e = assertThrows(HandlerNotFoundException.class, () -> bus.ask(new Balance("a")));

        assertEquals(Balance.class, e.messageClass());
        assertTrue(e.getMessage().contains(Balance.class.getName()) && e.getMessage().contains("registerQuery")
                && e.getMessage().contains(Object.class.getName()), e.getMessage());
        assertEquals(List.of(), seen);
    }

    @Test
    void aQueryClassRegisteredAsACommandIsNotAnsweredButItsQueryHandlerIs() {
        interface AccountQuery<R> extends Query<R> { }
        record Owner(String id) implements AccountQuery<String> { }
        bus.register(Owner.class, q -> seen.add("command " + q.id()));
        assertThrows(HandlerNotFoundException.class, () -> bus.ask(new Owner("a")));

        bus.registerQuery(AccountQuery.class, q -> "ann");
        String owner = bus.ask(new Owner("a"));
        bus.dispatch(new Owner("b"));

        assertEquals("ann", owner);
        assertEquals(List.of("command b"), seen);
    }

    interface AccountQuery<R> extends Query<R> { }

    record OwnerOf(String id) implements AccountQuery<String> { }

    record CreditsOf(String id) implements AccountQuery<Long> { }

    /** Fixes the answer two levels up: a page of {@code T} is a {@code Query<List<T>>}. */
    interface PagedQuery<T> extends Query<List<T>> { }

    record Names(int page) implements PagedQuery<String> { }

    /** Leaves the answer open but bounded: a count of some kind of number. */
    record Count<N extends Number>(String what) implements Query<N> { }

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void aRawQueryHandlerThatAnswersTheWrongTypeIsRefusedAtTheBusNamingQueryHandlerAndAnswer() {
        Class<Query<Object>> raw = (Class) Balance.class;
        bus.registerQuery(raw, q -> "one hundred");

        FluxException e = assertThrows(FluxException.class, () -> {
            Long balance = bus.ask(new Balance("a"));
            seen.add("got " + balance);
        });

        assertTrue(e.getMessage().contains(Balance.class.getName()) && e.getMessage().contains("java.lang.String")
                && e.getMessage().contains("java.lang.Long") && e.getMessage().contains("query handler"), e.getMessage());
        assertEquals(List.of(), seen);
    }

    @Test
    @SuppressWarnings("unchecked")
    void aHandlerOfAGenericQuerySupertypeMayAnswerOnlyWhatEachQueryAsksFor() {
        bus.registerQuery(AccountQuery.class, q -> q instanceof OwnerOf owner ? "ann " + owner.id() : "no credits");

        String owner = bus.ask(new OwnerOf("a"));
        FluxException e = assertThrows(FluxException.class, () -> bus.ask(new CreditsOf("a")));

        assertEquals("ann a", owner);
        assertTrue(e.getMessage().contains(CreditsOf.class.getName()) && e.getMessage().contains(AccountQuery.class.getName())
                && e.getMessage().contains("java.lang.String") && e.getMessage().contains("java.lang.Long"), e.getMessage());
    }

    @Test
    @SuppressWarnings("unchecked")
    void theAnswerTypeIsFoundThroughGenericSupertypesAndBounds() {
        bus.registerQuery(PagedQuery.class, q -> Set.of("not a list"));
        bus.registerQuery(Count.class, q -> q.what().equals("accounts") ? 7 : "seven");

        FluxException page = assertThrows(FluxException.class, () -> bus.ask(new Names(1)));
        Number accounts = bus.ask(new Count<>("accounts"));
        FluxException count = assertThrows(FluxException.class, () -> bus.ask(new Count<>("words")));

        assertTrue(page.getMessage().contains(List.class.getName()), page.getMessage());
        assertEquals(7, accounts);
        assertTrue(count.getMessage().contains(Number.class.getName()), count.getMessage());
    }

    @Test
    void anAnswerOfASubtypeOrNullPassesTheCheck() {
        record Amount(String id) implements Query<Number> { }
        bus.registerQuery(Amount.class, q -> q.id().isEmpty() ? null : 5L);

        assertEquals(5L, bus.ask(new Amount("a")));
        assertNull(bus.ask(new Amount("")));
    }

    @Test
    void aDispatchedQueryRunsItsQueryHandlerAndDropsTheAnswer() {
        bus.registerQuery(Balance.class, q -> {
            seen.add("asked " + q.id());
            return 1L;
        });

        bus.dispatch(new Balance("a"));

        assertEquals(List.of("asked a"), seen);
    }

    @Test
    void whatAHandlerThrowsReachesTheCallerUnwrappedEvenACheckedException() {
        IOException disk = new IOException("disk full");
        bus.register(Open.class, c -> sneakyThrow(disk));
        bus.registerQuery(Balance.class, q -> sneakyThrow(disk));

        Exception dispatched = assertThrows(Exception.class, () -> bus.dispatch(new Open("1")));
        Exception asked = assertThrows(Exception.class, () -> bus.ask(new Balance("a")));

        assertSame(disk, dispatched);
        assertSame(disk, asked);
    }

    @SuppressWarnings("unchecked")
    private static <T extends Throwable, R> R sneakyThrow(Throwable t) throws T {
        throw (T) t;
    }

    @Test
    void anUnregisterRunTwiceLeavesALaterRegistrationOfTheSameHandlerInPlace() {
        Consumer<Open> handler = c -> seen.add("open " + c.id());
        Runnable first = bus.register(Open.class, handler);
        first.run();
        bus.register(Open.class, handler);

        first.run();
        bus.dispatch(new Open("1"));

        assertEquals(List.of("open 1"), seen);
    }

    @Test
    void aHandlerNotFoundExceptionWithoutAClassIsRefusedNamingTheParameter() {
        IllegalArgumentException e = assertThrows(IllegalArgumentException.class, () -> new HandlerNotFoundException(null));

        assertTrue(e.getMessage().contains("messageClass"), e.getMessage());
    }

    @Test
    void nullsAndPrimitivesAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> bus.publish(null));
        assertThrows(IllegalArgumentException.class, () -> bus.dispatch(null));
        assertThrows(IllegalArgumentException.class, () -> bus.ask(null));
        assertThrows(IllegalArgumentException.class, () -> bus.subscribe(null, e -> { }));
        assertThrows(IllegalArgumentException.class, () -> bus.subscribe(Opened.class, null));
        assertThrows(IllegalArgumentException.class, () -> bus.register(null, c -> { }));
        assertThrows(IllegalArgumentException.class, () -> bus.register(Open.class, null));
        assertThrows(IllegalArgumentException.class, () -> bus.subscribe(int.class, e -> { }));
        IllegalArgumentException primitive = assertThrows(IllegalArgumentException.class, () -> bus.register(long.class, c -> { }));
        assertTrue(primitive.getMessage().contains("long"), primitive.getMessage());
    }
}
