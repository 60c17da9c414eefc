package dev.flux.memory;

import dev.flux.Aggregate;
import dev.flux.ConcurrencyConflictException;
import dev.flux.EventData;
import dev.flux.EventStore;
import dev.flux.ExpectedVersion;
import dev.flux.FluxException;
import dev.flux.ForwardingEventStore;
import dev.flux.Metadata;
import dev.flux.MissingHandlerException;
import dev.flux.RecordedEvent;
import dev.flux.Repository;
import dev.flux.bus.Bus;
import dev.flux.bus.EventContext;
import dev.flux.serialization.EventDecodingException;
import dev.flux.serialization.EventSerializer;
import dev.flux.serialization.EventTypes;
import dev.flux.serialization.JacksonEventSerializer;
import dev.flux.test.OneEventPerReadStore;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.concurrent.TimeUnit;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertInstanceOf;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

class RepositoryTest {

    record AccountOpened(String owner) {}

    record AccountCredited(long amount) {}

    public static class Account extends Aggregate {
        private String owner;
        private long balance;

        public void open(String owner) {
            update(new AccountOpened(owner));
        }

        public void credit(long amount) {
            if (amount <= 0) {
                throw new IllegalArgumentException("amount must be positive");
            }
            update(new AccountCredited(amount));
        }

        long balance() {
            return balance;
        }

        private void handleAccountOpened(AccountOpened e) {
            owner = e.owner();
        }

        private void handleAccountCredited(AccountCredited e) {
            balance += e.amount();
        }
    }

    public static class NoDefaultConstructor extends Aggregate {
        public NoDefaultConstructor(String required) {
        }
    }

    public static class Deposit {
        public long amount;
    }

    public static class CashDeposit extends Deposit {
    }

    public static class Till extends Aggregate {
        private long total;

        private void handleCashDeposit(Deposit e) {     // named after the subclass, taking its superclass
            total += e.amount;
        }
    }

    public interface Movement {
        long amount();
    }

    public abstract static class Transfer {
        public long amount;
    }

    /** A handler taking an interface, beside a good one. */
    public static class Ledger extends Aggregate {
        private long total;

        private void handleAccountCredited(AccountCredited e) {
            total += e.amount();
        }

        private void handleMovement(Movement e) {
            total += e.amount();
        }
    }

    public static class Base extends Aggregate {
        private long total;

        void handleTransfer(Transfer e) {
            total += e.amount;
        }
    }

    /** Inherits a handler taking an abstract class. */
    public static class Derived extends Base {
    }

    private final InMemoryEventStore store = new InMemoryEventStore();
    private final Repository<Account> accounts = Repository.of(Account.class, store);

    /** A handler taking a type variable, which its subclasses bind (through another generic class here). */
    public abstract static class CreditTotal<E> extends Aggregate {
        protected long total;

        private void handleAccountCredited(E e) {
            total += ((AccountCredited) e).amount();
        }
    }

    public abstract static class NamedCreditTotal<T> extends CreditTotal<T> {
    }

    public static class Piggybank extends NamedCreditTotal<AccountCredited> {
    }

    @Test
    void existsTellsWhetherTheAggregateHasEventsWithoutReplayingThem() {
        InMemoryEventStore store = new InMemoryEventStore();
        Repository<Account> accounts = Repository.of(Account.class, store);
        assertFalse(accounts.exists("42"), "no events yet");
        Account loadedNew = accounts.load("42");
        loadedNew.credit(5);
        assertFalse(accounts.exists("42"), "an update not saved stores nothing");
        loadedNew.save();
        assertTrue(accounts.exists("42"));
        assertFalse(accounts.exists("43"), "another id's stream");

        // An event no handler takes: a load fails, yet the stream is there, and exists says so without replaying it.
        store.append(accounts.streamId("44"), ExpectedVersion.NO_STREAM,
                List.of(EventData.of("Unknown", "{}".getBytes(StandardCharsets.UTF_8), Map.of())));
        assertThrows(RuntimeException.class, () -> accounts.load("44"));
        assertTrue(accounts.exists("44"));
        assertThrows(IllegalArgumentException.class, () -> accounts.exists(" "));
    }

    @Test
    void aHandlerTakingASuperclasssTypeVariableHandlesTheClassTheAggregateBindsItTo() {
        Repository<Piggybank> piggybanks = Repository.of(Piggybank.class, store);
        Piggybank piggybank = piggybanks.load("1");
        piggybank.update(new AccountCredited(4));
        piggybank.update(new AccountCredited(5));

        piggybank.save();

        assertEquals(9, piggybanks.load("1").total);
        assertTrue(piggybanks.serializer().eventTypes().names().contains("AccountCredited"),
                piggybanks.serializer().eventTypes().names().toString());
    }

    @Test
    void savingASubclassOfAHandledEventClassSaysTheHandlerRegisteredOnlyItsSuperclass() {
        Till till = Repository.of(Till.class, store).load("1");
        till.update(new CashDeposit());

        dev.flux.FluxException refused = assertThrows(dev.flux.FluxException.class, till::save);

        assertTrue(refused.getMessage().contains(CashDeposit.class.getName())
                && refused.getMessage().contains("registers that superclass"), refused.getMessage());
        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("Till-1"));
    }

    @Test
    void anUnknownIdLoadsANewAggregateAtVersionMinusOne() {
        Account account = accounts.load("42");

        assertEquals("42", account.id());
        assertEquals(ExpectedVersion.NO_STREAM, account.version());
        assertEquals(List.of(), account.uncommittedEvents());
    }

    @Test
    void saveAppendsToTheCategoryStreamAndAdvancesTheVersion() {
        Account account = accounts.load("42");
        account.open("ana");
        account.credit(100);
        account.credit(150);

        account.save();

        assertEquals(2, account.version());
        assertEquals(List.of(), account.uncommittedEvents());
        List<RecordedEvent> stream = store.readStream("Account-42", 0, 10);
        assertEquals(List.of("AccountOpened", "AccountCredited", "AccountCredited"),
                stream.stream().map(RecordedEvent::type).toList());
        assertEquals("{\"amount\":150}", new String(stream.get(2).data(), StandardCharsets.UTF_8));
    }

    @Test
    void loadReplaysThroughTheHandlersWithoutBuffering() {
        Account first = accounts.load("42");
        first.open("ana");
        first.credit(100);
        first.save();
        first.credit(5);
        first.save();

        Account loaded = accounts.load("42");

        assertEquals(105, loaded.balance());
        assertEquals("ana", loaded.owner);
        assertEquals(2, loaded.version());
        assertEquals(List.of(), loaded.uncommittedEvents());
    }

    @Test
    void loadReadsLongStreamsPageByPageEvenWhenTheStoreCutsPagesShort() {
        Repository<Account> paged = Repository.of(Account.class, new OneEventPerReadStore(store));
        Account account = accounts.load("7");
        for (int i = 0; i < 2_500; i++) {
            account.credit(1);
        }
        account.save();

        assertEquals(2_500, accounts.load("7").balance());
        assertEquals(2_499, paged.load("7").version());
    }

    @Test
    @Timeout(value = 10, threadMode = Timeout.ThreadMode.SEPARATE_THREAD)
    void aStoreThatIgnoresTheVersionAskedForFailsTheLoadInsteadOfReplayingTheStreamAgain() {
        Account account = accounts.load("8");
        account.open("ana");
        account.credit(5);
        account.save();
        EventStore fromTheStart = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                return super.readStream(streamId, 0, maxCount);
            }
        };

        FluxException e = assertThrows(FluxException.class,
                () -> Repository.of(Account.class, new OneEventPerReadStore(fromTheStart)).load("8"));

        assertTrue(e.getMessage().contains("Cannot load Account-8") && e.getMessage().contains("AccountOpened Account-8@0")
                && e.getMessage().contains("where version 1 was due"), e.getMessage());
        assertEquals(5, accounts.load("8").balance());
    }

    @Test
    void aStoreThatSkipsAnEventFailsTheLoadInsteadOfGivingAStateWithoutIt() {
        Account account = accounts.load("9");
        account.open("ana");
        account.credit(5);
        account.credit(7);
        account.save();
        EventStore skipping = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                return super.readStream(streamId, fromVersion, maxCount).stream().filter(r -> r.version() != 1).toList();
            }
        };

        FluxException e = assertThrows(FluxException.class, () -> Repository.of(Account.class, skipping).load("9"));

        assertTrue(e.getMessage().contains("Account-9@2") && e.getMessage().contains("where version 1 was due"),
                e.getMessage());
    }

    @Test
    void aStoreThatAnswersAnotherStreamFailsTheLoadInsteadOfReplayingAnotherAggregatesEvents() {
        accounts.update("A", a -> a.open("ana"));
        EventStore caseInsensitive = new ForwardingEventStore(store) {
            @Override
            public List<RecordedEvent> readStream(String streamId, long fromVersion, int maxCount) {
                return super.readStream(streamId.toUpperCase(java.util.Locale.ROOT).replace("ACCOUNT", "Account"),
                        fromVersion, maxCount);
            }
        };

        FluxException e = assertThrows(FluxException.class, () -> Repository.of(Account.class, caseInsensitive).load("a"));

        assertTrue(e.getMessage().startsWith("Cannot load Account-a: ") && e.getMessage().contains("AccountOpened Account-A@0")
                && e.getMessage().contains("where version 0 was due in Account-a."), e.getMessage());
    }

    @Test
    void aConflictLeavesTheAggregateAndTheStoreAsTheyWere() {
        Account mine = accounts.load("42");
        Account theirs = accounts.load("42");
        theirs.credit(1);
        theirs.save();
        mine.credit(10);
        mine.credit(20);

        ConcurrencyConflictException conflict = assertThrows(ConcurrencyConflictException.class, mine::save);

        assertEquals("Account-42", conflict.streamId());
        assertEquals(ExpectedVersion.NO_STREAM, conflict.expectedVersion());
        assertEquals(0, conflict.actualVersion());
        assertEquals(ExpectedVersion.NO_STREAM, mine.version());
        assertEquals(List.of(new AccountCredited(10), new AccountCredited(20)), mine.uncommittedEvents());
        assertEquals(1, store.readAll(0, 10).size());
    }

    @Test
    void saveRefusesAnAggregateLoadedFromAnotherStoreOrCategoryWritingNothing() {
        Account account = accounts.load("42");
        account.credit(10);
        InMemoryEventStore otherStore = new InMemoryEventStore();
        Repository<Account> elsewhere = Repository.of(Account.class, otherStore);
        Repository<Account> otherCategory = Repository.builder(Account.class, store).category("Savings").build();

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> elsewhere.save(account));
        assertThrows(IllegalArgumentException.class, () -> otherCategory.save(account));

        assertTrue(refused.getMessage().startsWith("aggregate Account-42 was loaded from ")
                && refused.getMessage().contains("aggregate.save()"), refused.getMessage());
        assertEquals(ExpectedVersion.NO_STREAM, otherStore.streamVersion("Account-42"));
        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("Savings-42"));
        assertEquals(ExpectedVersion.NO_STREAM, account.version());
        assertEquals(List.of(new AccountCredited(10)), account.uncommittedEvents());

        Repository.of(Account.class, store).save(account);     // another repository of the same stream may save it
        assertEquals(0, store.streamVersion("Account-42"));
    }

    /** A store whose first append is written but answered with a failure, as a connection lost before the answer. */
    private static final class LosesTheAnswerOnce extends ForwardingEventStore {
        private boolean lost;

        LosesTheAnswerOnce(EventStore delegate) {
            super(delegate);
        }

        @Override
        public long append(String streamId, long expectedVersion, List<EventData> events) {
            long version = super.append(streamId, expectedVersion, events);
            if (!lost) {
                lost = true;
                throw new dev.flux.FluxException("connection lost before the answer to the append to " + streamId);
            }
            return version;
        }
    }

    @Test
    void saveAgainAfterAStoreFailureOfUnknownOutcomeNeverStoresTheEventsTwice() {
        Repository<Account> viaFlaky = Repository.of(Account.class, new LosesTheAnswerOnce(store));
        Account account = viaFlaky.load("42");
        account.credit(10);

        assertThrows(dev.flux.FluxException.class, account::save);
        assertEquals(ExpectedVersion.NO_STREAM, account.version(), "left as it was");
        assertEquals(0, store.streamVersion("Account-42"), "though the store had written the event");

        assertThrows(ConcurrencyConflictException.class, account::save);
        assertEquals(0, store.streamVersion("Account-42"), "stored once");
        assertEquals(10, accounts.load("42").balance());
    }

    @Test
    void anAppendRetriedWithItsOwnEventIdsAfterAFailureOfUnknownOutcomeIsStoredOnceAndSaysSo() {
        EventStore flaky = new LosesTheAnswerOnce(store);
        List<EventData> events = List.of(EventData.of("AccountCredited", "{\"amount\":1}".getBytes(StandardCharsets.UTF_8),
                Map.of()));
        assertThrows(dev.flux.FluxException.class, () -> flaky.append("Account-42", ExpectedVersion.ANY, events));

        dev.flux.DuplicateEventIdException retried = assertThrows(dev.flux.DuplicateEventIdException.class,
                () -> flaky.append("Account-42", ExpectedVersion.ANY, events));

        assertEquals(events.get(0).eventId(), retried.eventId());
        assertTrue(retried.getMessage().contains("an append retried after a failure of unknown outcome meets this when the"
                + " failed attempt stored its events"), retried.getMessage());
        assertEquals(0, store.streamVersion("Account-42"), "stored once");
        assertEquals("Account-42", store.readEvent(events.get(0).eventId()).orElseThrow().streamId());
    }

    @Test
    void updateDoesNotRetryAStoreFailureOfUnknownOutcomeSoTheActionRunsOnce() {
        Repository<Account> viaFlaky = Repository.of(Account.class, new LosesTheAnswerOnce(store));
        List<String> actions = new ArrayList<>();

        dev.flux.FluxException failed = assertThrows(dev.flux.FluxException.class, () -> viaFlaky.update("42", a -> {
            actions.add("credit 10");
            a.credit(10);
        }));

        assertTrue(failed.getMessage().startsWith("connection lost"), failed.getMessage());
        assertEquals(List.of("credit 10"), actions);
        assertEquals(10, accounts.load("42").balance(), "stored once, by the one attempt");
    }

    public interface Reason {}

    public record Gift(String from) implements Reason {}

    record CreditedFor(long amount, Reason reason) {}

    public static class Purse extends Aggregate {
        private long balance;

        private void handleCreditedFor(CreditedFor e) {
            balance += e.amount();
        }
    }

    @Test
    void aSaveWhoseSecondEventCannotBeReadBackStoresNothingAndLeavesTheAggregateAsItWas() {
        Repository<Purse> purses = Repository.of(Purse.class, store);
        Purse purse = purses.load("1");
        purse.update(new CreditedFor(1, null));
        purse.save();
        purse.update(new CreditedFor(2, null));
        purse.update(new CreditedFor(3, new Gift("ana")));     // written as {"from":"ana"}, which no Reason can be read from
        purse.update(new CreditedFor(4, null));

        dev.flux.FluxException refused = assertThrows(dev.flux.FluxException.class, purse::save);

        assertTrue(refused.getMessage().contains(CreditedFor.class.getName()) && refused.getMessage().contains("not read back"),
                refused.getMessage());
        assertEquals(0, purse.version());
        assertEquals(List.of(new CreditedFor(2, null), new CreditedFor(3, new Gift("ana")), new CreditedFor(4, null)),
                purse.uncommittedEvents());
        assertEquals(0, store.streamVersion("Purse-1"));
        assertEquals(1, purses.load("1").balance);
    }

    public record Money(long cents) { }

    public record Wrapped<T>(T value) { }

    public static class Wallet extends Aggregate {
        private long cents;

        private void handleWrapped(Wrapped<Money> e) {
            cents += e.value().cents();     // the JSON holds no T: a replay would get a map here
        }
    }

    @Test
    void aGenericEventClassIsRefusedWhenTheRepositoryIsBuiltSoNoneOfItsEventsIsStored() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> Repository.of(Wallet.class, store));

        assertTrue(refused.getMessage().contains("handleWrapped") && refused.getMessage().contains(Wrapped.class.getName())
                && refused.getMessage().contains("Wrapped.value (T)")
                && refused.getMessage().contains("one concrete class per payload type"), refused.getMessage());
        assertEquals(List.of(), store.readAll(0, 10));
    }

    public static class Envelope<T> {
        T value;

        Envelope() {
        }

        Envelope(T value) {
            this.value = value;
        }
    }

    public static final class MoneyEnvelope extends Envelope<Money> {
        MoneyEnvelope() {
        }

        MoneyEnvelope(Money value) {
            super(value);
        }
    }

    public static class EnvelopeWallet extends Aggregate {
        private long cents;

        private void handleMoneyEnvelope(MoneyEnvelope e) {
            cents += e.value.cents();
        }
    }

    @Test
    void aSubclassThatBindsAGenericClasssTypeVariableIsSavedAndLoaded() {
        Repository<EnvelopeWallet> wallets = Repository.of(EnvelopeWallet.class, store);
        EnvelopeWallet wallet = wallets.load("7");
        wallet.update(new MoneyEnvelope(new Money(5)));
        wallet.update(new MoneyEnvelope(new Money(2)));
        wallet.save();

        EnvelopeWallet loaded = wallets.load("7");

        assertEquals(7, loaded.cents);
        assertEquals(1, loaded.version());
    }

    /** {@code amount} is an Object: a Long written as a small number comes back an Integer. */
    public record Tipped(Object amount) { }

    public static class TipJar extends Aggregate {
        private long cents;

        private void handleTipped(Tipped e) {
            cents += (Long) e.amount();
        }
    }

    @Test
    void aHandlerThatThrowsOnARecordedEventFailsTheLoadNamingTheEvent() {
        Repository<TipJar> jars = Repository.of(TipJar.class, store);
        TipJar jar = jars.load("7");
        jar.update(new Tipped(5L));
        jar.save();
        assertEquals(5, jar.cents);

        dev.flux.FluxException failed = assertThrows(dev.flux.FluxException.class, () -> jars.load("7"));

        assertInstanceOf(ClassCastException.class, failed.getCause());
        assertTrue(failed.getMessage().startsWith("Cannot load TipJar-7: the handler of TipJar threw java.lang.ClassCastException")
                && failed.getMessage().contains("replaying version 0 (type 'Tipped', position 1)")
                && failed.getMessage().contains("a field of type Object"), failed.getMessage());
    }

    record BonusGranted(long amount) { }

    /** Its handler of AccountOpened grants a bonus by calling update, which replay runs again. */
    public static class BonusAccount extends Aggregate {
        private long balance;

        private void handleAccountOpened(AccountOpened e) {
            update(new BonusGranted(10));
        }

        private void handleBonusGranted(BonusGranted e) {
            balance += e.amount();
        }
    }

    @Test
    void aHandlerThatCallsUpdateIsRefusedSoNothingIsStoredThatNoLoadCouldReplay() {
        Repository<BonusAccount> bonusAccounts = Repository.of(BonusAccount.class, store);
        BonusAccount opened = bonusAccounts.load("7");

        IllegalStateException refused = assertThrows(IllegalStateException.class,
                () -> opened.update(new AccountOpened("ana")));
        opened.save();

        assertEquals("BonusAccount 7: update(BonusGranted) was called while the handler of AccountOpened ran. Saved,"
                + " BonusGranted would come before the AccountOpened that led to it, and every load, replaying AccountOpened,"
                + " would apply it again and fail: handlers must only change state; call update from command methods."
                + " Neither event is buffered", refused.getMessage());
        assertEquals(List.of(), opened.uncommittedEvents());
        assertEquals(10, opened.balance, "what the handlers changed stays changed, as after any handler that throws");
        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("BonusAccount-7"));
        assertEquals(ExpectedVersion.NO_STREAM, bonusAccounts.load("7").version(), "the stream still loads");
    }

    /** Its handler of a bonus saves the aggregate: what a handler must not do either. */
    public static class SelfSavingAccount extends Aggregate {
        private String owner;

        private void handleAccountOpened(AccountOpened e) {
            owner = e.owner();
        }

        private void handleBonusGranted(BonusGranted e) {
            save();
        }
    }

    @Test
    void aHandlerThatSavesIsRefusedNamingItAndItsEventIsNotBuffered() {
        Repository<SelfSavingAccount> selfSaving = Repository.of(SelfSavingAccount.class, store);
        SelfSavingAccount account = selfSaving.load("7");
        account.update(new AccountOpened("ana"));

        IllegalStateException refused = assertThrows(IllegalStateException.class, () -> account.update(new BonusGranted(5)));

        assertEquals("SelfSavingAccount 7: the handler of BonusGranted saved the aggregate; handlers must only change"
                + " state: save from command methods", refused.getMessage());
        assertEquals(List.of(), account.uncommittedEvents(), "the bonus is not buffered");
        assertEquals(List.of("AccountOpened"), store.readStream("SelfSavingAccount-7", 0, 10).stream()
                .map(RecordedEvent::type).toList(), "what the handler's save stored stays stored, as any save's");
    }

    @Test
    void aHandlerThatCallsUpdateWhileReplayingFailsTheLoadInsteadOfLeavingItsEventToBeStoredAgain() {
        Repository<BonusAccount> bonusAccounts = Repository.of(BonusAccount.class, store);
        store.append("BonusAccount-7", ExpectedVersion.NO_STREAM, List.of(
                EventData.of("AccountOpened", "{\"owner\":\"ana\"}".getBytes(StandardCharsets.UTF_8), Map.of())));

        dev.flux.FluxException failed = assertThrows(dev.flux.FluxException.class, () -> bonusAccounts.load("7"));

        assertTrue(failed.getMessage().startsWith("Cannot load BonusAccount-7: replaying it, a handler of BonusAccount"
                + " called update(...), which applied and buffered [BonusGranted]")
                && failed.getMessage().contains("call update from command methods"), failed.getMessage());
        assertEquals(0, store.streamVersion("BonusAccount-7"), "the one event appended, nothing more");
    }

    /** Its constructor opens it by calling update, which every aggregate the repository makes to load would run. */
    public static class SelfOpeningAccount extends Aggregate {
        private String owner;

        SelfOpeningAccount() {
            update(new AccountOpened("nobody"));
        }

        private void handleAccountOpened(AccountOpened e) {
            owner = e.owner();
        }
    }

    @Test
    void aConstructorThatCallsUpdateFailsTheLoadSayingSoNotBlamingAHandler() {
        Repository<SelfOpeningAccount> selfOpening = Repository.of(SelfOpeningAccount.class, store);

        dev.flux.FluxException failed = assertThrows(dev.flux.FluxException.class, () -> selfOpening.load("7"));

        assertEquals("The constructor of " + SelfOpeningAccount.class.getName() + " called update(...), which applied and"
                + " buffered [AccountOpened] as new events. The Repository makes an aggregate for every load, so each would"
                + " hold them again, apply them again and store them again on each save: set the initial state in fields"
                + " or the constructor itself; call update from command methods", failed.getMessage());
        assertEquals(List.of(), store.readAll(0, 10));
    }

    @Test
    void metadataTravelsWithEachEvent() {
        Account account = accounts.load("42");
        account.update(new AccountOpened("ana"), Map.of(Metadata.CORRELATION_ID, "req-1", "user", "ana"));
        account.credit(3);
        account.save();

        List<RecordedEvent> stream = store.readStream("Account-42", 0, 10);

        assertEquals(Map.of(Metadata.CORRELATION_ID, "req-1", "user", "ana"), stream.get(0).metadata());
        assertEquals(Map.of(), stream.get(1).metadata());
    }

    @Test
    void metadataNoStoreCouldSaveIsRefusedByUpdateSoTheAggregateCanStillBeSaved() {
        Account account = accounts.load("42");
        account.credit(1);

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> account.update(new AccountCredited(2), Map.of("user", "an\uD800a")));

        assertTrue(refused.getMessage().startsWith("metadata value of event AccountCredited 'an\uD800a' holds a lone"
                + " surrogate"), refused.getMessage());
        assertEquals(List.of(new AccountCredited(1)), account.uncommittedEvents());
        assertEquals(1, account.balance());
        account.save();
        assertEquals(0, store.streamVersion("Account-42"));
    }

    @Test
    void updateLoadsActsAndSaves() {
        accounts.update("42", a -> a.open("ana"));

        Account updated = accounts.update("42", a -> a.credit(5));

        assertEquals(1, updated.version());
        assertEquals(5, accounts.load("42").balance());
    }

    @Test
    void anExceptionInTheActionSavesNothing() {
        assertThrows(IllegalArgumentException.class, () -> accounts.update("42", a -> a.credit(-1)));

        assertEquals(ExpectedVersion.NO_STREAM, store.streamVersion("Account-42"));
    }

    @Test
    void updateRethrowsTheLastConflictAfterItsAttempts() {
        Repository<Account> oneTry = Repository.builder(Account.class, store).maxAttempts(3).build();
        List<Integer> attempts = new ArrayList<>();

        assertThrows(ConcurrencyConflictException.class, () -> oneTry.update("42", a -> {
            attempts.add(attempts.size());
            Account rival = accounts.load("42");
            rival.credit(1);
            rival.save();
            a.credit(100);
        }));

        assertEquals(3, attempts.size());
        assertEquals(3, accounts.load("42").balance(), "only the rivals' credits are there");
    }

    @Test
    void anExhaustedRetrySaysUpdateGaveUpNamingTheStreamTheAttemptsAndTheLastVersions() {
        Repository<Account> twoTries = Repository.builder(Account.class, store).maxAttempts(2).build();

        ConcurrencyConflictException gaveUp = assertThrows(ConcurrencyConflictException.class, () -> twoTries.update("42",
                a -> {
                    accounts.update("42", rival -> rival.credit(1));
                    a.credit(100);
                }));

        assertEquals("Account-42", gaveUp.streamId());
        assertEquals(0, gaveUp.expectedVersion());
        assertEquals(1, gaveUp.actualVersion());
        assertInstanceOf(ConcurrencyConflictException.class, gaveUp.getCause(), "the last conflict");
        assertEquals("Repository.update gave up on stream 'Account-42' after 2 attempts, each met a conflict (the last"
                + " expected version 0 but the stream is at version 1); nothing of them was written. Another writer saves"
                + " this stream as often as update does: raise Repository.builder(...).maxAttempts(n), or save it from"
                + " fewer writers", gaveUp.getMessage());
    }

    @Test
    void aConflictAfterTheActionSavedTheAggregateItselfIsNotRetriedSoWhatItSavedIsStoredOnce() {
        List<String> actions = new ArrayList<>();

        ConcurrencyConflictException notRetried = assertThrows(ConcurrencyConflictException.class,
                () -> accounts.update("42", a -> {
                    actions.add("open, save, credit");
                    a.open("ana");
                    a.save();
                    accounts.update("42", rival -> rival.credit(1));
                    a.credit(100);
                }));

        assertEquals(List.of("open, save, credit"), actions);
        assertEquals(List.of("AccountOpened", "AccountCredited"),
                store.readStream("Account-42", 0, 10).stream().map(RecordedEvent::type).toList(), "opened once");
        assertEquals(0, notRetried.expectedVersion());
        assertEquals(1, notRetried.actualVersion());
        assertTrue(notRetried.getMessage().startsWith("Repository.update did not retry a conflict on stream 'Account-42'"
                + " (expected version 0 but the stream is at version 1): its action saved the aggregate itself, to version"
                + " 0, so running it again would store those events a second time"), notRetried.getMessage());
    }

    @Test
    void eachAttemptRunsTheActionOnAFreshlyLoadedAggregate() {
        List<Long> loadedAt = new ArrayList<>();

        Account updated = accounts.update("42", a -> {
            loadedAt.add(a.version());
            if (loadedAt.size() == 1) {
                accounts.update("42", rival -> rival.open("bo"));
            }
            a.credit(5);
        });

        assertEquals(List.of(-1L, 0L), loadedAt, "each attempt acts on a fresh load");
        assertEquals(1, updated.version());
        assertEquals(5, accounts.load("42").balance());
    }

    @Test
    void anInterruptedThreadStopsRetryingAtItsFirstConflictKeepingTheInterrupt() {
        List<String> actions = new ArrayList<>();
        Thread.currentThread().interrupt();
        try {
            FluxException stopped = assertThrows(FluxException.class, () -> accounts.update("42", a -> {
                actions.add("credit 100");
                accounts.update("42", rival -> rival.credit(1));
                a.credit(100);
            }));

            assertTrue(Thread.currentThread().isInterrupted(), "the interrupt stays set");
            assertEquals(List.of("credit 100"), actions, "not retried");
            assertInstanceOf(ConcurrencyConflictException.class, stopped.getCause());
            assertEquals("Repository.update stopped retrying stream 'Account-42': the thread was interrupted after a"
                    + " conflict (expected no stream (version -1) but the stream is at version 0); nothing of that"
                    + " attempt was stored, and the interrupt stays set", stopped.getMessage());
            assertEquals(1, accounts.load("42").balance(), "only the rival's credit");
        } finally {
            Thread.interrupted();
        }
    }

    @Test
    @Timeout(value = 30, unit = TimeUnit.SECONDS)
    void twoThreadsSavingOneAggregateInstanceStoreItsEventsOnceNeverAgainAtTheNextVersion() throws Exception {
        CountDownLatch slowSerializing = new CountDownLatch(1);
        CountDownLatch fastSaved = new CountDownLatch(1);
        JacksonEventSerializer jackson = new JacksonEventSerializer(new EventTypes());
        EventSerializer slowForOneThread = new EventSerializer() {
            @Override
            public EventData serialize(Object event, Map<String, String> metadata) {
                EventData data = jackson.serialize(event, metadata);
                if (Thread.currentThread().getName().equals("slow saver")) {
                    slowSerializing.countDown();
                    await(fastSaved);
                }
                return data;
            }

            @Override
            public Object deserialize(RecordedEvent recorded) {
                return jackson.deserialize(recorded);
            }

            @Override
            public EventTypes eventTypes() {
                return jackson.eventTypes();
            }
        };
        Account shared = Repository.builder(Account.class, store).serializer(slowForOneThread).build().load("42");
        shared.open("ana");
        shared.credit(5);
        List<Throwable> slowOutcome = new ArrayList<>();
        Thread slow = new Thread(() -> {
            try {
                shared.save();
            } catch (Throwable e) {
                slowOutcome.add(e);
            }
        }, "slow saver");

        slow.start();
        slowSerializing.await();
        shared.save();
        fastSaved.countDown();
        slow.join();

        assertEquals(List.of("AccountOpened", "AccountCredited"),
                store.readStream("Account-42", 0, 10).stream().map(RecordedEvent::type).toList(), "stored once");
        assertEquals(1, slowOutcome.size());
        assertInstanceOf(ConcurrencyConflictException.class, slowOutcome.get(0));
        assertEquals(5, accounts.load("42").balance());
    }

    private static void await(CountDownLatch latch) {
        try {
            latch.await();
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new IllegalStateException(e);
        }
    }

    @Test
    void aBusListenerWithContextGetsEachSavedEventsStoredIdAndMetadata() {
        Bus bus = new Bus();
        List<String> published = new ArrayList<>();
        List<EventContext> contexts = new ArrayList<>();
        bus.subscribeWithContext(Object.class, (e, context) -> {
            published.add(e.toString());
            contexts.add(context);
        });
        Account account = Repository.builder(Account.class, store).publishTo(bus).build().load("42");
        account.update(new AccountOpened("ana"), Map.of(Metadata.CORRELATION_ID, "req-1", "user", "ana"));
        account.credit(3);

        account.save();

        List<RecordedEvent> stream = store.readStream("Account-42", 0, 10);
        assertEquals(List.of("AccountOpened[owner=ana]", "AccountCredited[amount=3]"), published);
        assertEquals(List.of(new EventContext(stream.get(0).eventId(), stream.get(0).metadata(), "Account-42", 0),
                new EventContext(stream.get(1).eventId(), stream.get(1).metadata(), "Account-42", 1)), contexts);
        assertEquals(Map.of(Metadata.CORRELATION_ID, "req-1", "user", "ana"), contexts.get(0).metadata());
        assertEquals(Map.of(), contexts.get(1).metadata());
    }

    @Test
    void aBusListenerCarriesTheConversationOnToAnotherAggregateThroughTheSavedEventsContext() {
        Bus bus = new Bus();
        Repository<Account> publishing = Repository.builder(Account.class, store).publishTo(bus).build();
        bus.subscribeWithContext(AccountOpened.class, (opened, context) -> {
            UUID correlation = UUID.fromString(context.metadata().get(Metadata.CORRELATION_ID));
            accounts.update("7", bonus -> bonus.update(new AccountCredited(10),
                    Metadata.causedBy(correlation, context.eventId())));
        });
        UUID request = UUID.randomUUID();

        publishing.update("42", a -> a.update(new AccountOpened("ana"), Map.of(Metadata.CORRELATION_ID, request.toString())));

        RecordedEvent opened = store.readStream("Account-42", 0, 10).get(0);
        RecordedEvent bonus = store.readStream("Account-7", 0, 10).get(0);
        assertEquals(Map.of(Metadata.CORRELATION_ID, request.toString(), Metadata.CAUSATION_ID, opened.eventId().toString()),
                bonus.metadata());
    }

    @Test
    void aBusListenerThatThrowsLeavesTheAggregateSavedSoSavingAgainStoresNothing() {
        Bus bus = new Bus();
        List<Object> published = new ArrayList<>();
        bus.subscribe(Object.class, published::add);
        bus.subscribe(AccountOpened.class, e -> {
            throw new IllegalStateException("read model down");
        });
        Account account = Repository.builder(Account.class, store).publishTo(bus).build().load("42");
        account.open("ana");
        account.credit(5);

        assertThrows(IllegalStateException.class, account::save);
        account.save();

        assertEquals(1, account.version());
        assertEquals(List.of(), account.uncommittedEvents());
        assertEquals(1, store.streamVersion("Account-42"), "stored once");
        assertEquals(List.of(new AccountOpened("ana")), published, "the events after the failed one are not published");
    }

    @Test
    void aConflictInABusListenerReachesTheCallerOfUpdateWithoutRunningTheActionAgain() {
        Bus bus = new Bus();
        Repository<Account> publishing = Repository.builder(Account.class, store).publishTo(bus).build();
        bus.subscribe(AccountCredited.class, e -> {
            Account stale = accounts.load("7");
            accounts.update("7", rival -> rival.open("bo"));
            stale.open("ana");
            stale.save();
        });
        List<String> actions = new ArrayList<>();

        ConcurrencyConflictException listenerConflict = assertThrows(ConcurrencyConflictException.class,
                () -> publishing.update("42", a -> {
                    actions.add("credit 100");
                    a.credit(100);
                }));

        assertEquals("Account-7", listenerConflict.streamId());
        assertEquals(List.of("credit 100"), actions);
        assertEquals(List.of("AccountCredited"), store.readStream("Account-42", 0, 10).stream().map(RecordedEvent::type).toList());
    }

    @Test
    @Timeout(value = 120, unit = TimeUnit.SECONDS)
    void concurrentUpdatesOnOneAccountRetryToTheExactBalanceWithGaplessVersions() throws Exception {
        int threads = 8;
        int creditsEach = 500;
        ExecutorService pool = Executors.newFixedThreadPool(threads);
        CountDownLatch start = new CountDownLatch(1);
        List<Future<?>> workers = new ArrayList<>();
        for (int t = 0; t < threads; t++) {
            workers.add(pool.submit(() -> {
                start.await();
                for (int i = 0; i < creditsEach; i++) {
                    accounts.update("shared", a -> a.credit(1));
                }
                return null;
            }));
        }
        start.countDown();
        for (Future<?> worker : workers) {
            worker.get();
        }
        pool.shutdown();

        Account account = accounts.load("shared");
        assertEquals(threads * creditsEach, account.balance());
        assertEquals(threads * creditsEach - 1, account.version());
        List<RecordedEvent> stream = new ArrayList<>();
        for (List<RecordedEvent> page = store.readStream("Account-shared", 0, 1000); !page.isEmpty();
             page = store.readStream("Account-shared", stream.size(), 1000)) {
            stream.addAll(page);
        }
        for (int v = 0; v < stream.size(); v++) {
            assertEquals(v, stream.get(v).version());
        }
    }

    @Test
    void theCategoryCanBeChosen() {
        Repository<Account> custom = Repository.builder(Account.class, store).category("acct").build();

        custom.update("1", a -> a.open("ana"));

        assertEquals("acct-1", custom.streamId("1"));
        assertEquals(0, store.streamVersion("acct-1"));
        assertThrows(IllegalArgumentException.class, () -> Repository.builder(Account.class, store).category("a-b"));
    }

    @Test
    void aHandlerTakingAnInterfaceIsRefusedNamingTheAggregateTheHandlerAndWhy() {
        EventTypes shared = new EventTypes();

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> Repository.builder(
                Ledger.class, store).serializer(new JacksonEventSerializer(shared)).build());

        String message = refused.getMessage();
        assertTrue(message.contains(Ledger.class.getName()) && message.contains("handleMovement(Movement)")
                && message.contains("an interface, " + Movement.class.getName())
                && message.contains("must take a concrete event class"), message);
        assertEquals(Set.of(), shared.names(), "no handler's class is registered when one is refused");
    }

    @Test
    void anInheritedHandlerTakingAnAbstractClassIsRefusedNamingWhereItIsDeclared() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class,
                () -> Repository.of(Derived.class, store));

        String message = refused.getMessage();
        assertTrue(message.contains(Derived.class.getName()) && message.contains("handleTransfer(Transfer)")
                && message.contains("declared on " + Base.class.getName())
                && message.contains("an abstract class, " + Transfer.class.getName()), message);
    }

    @Test
    void aHandlerWhoseEventNameIsTakenInASharedSerializerIsNamedInTheRefusal() {
        EventTypes shared = new EventTypes().register("AccountCredited", Deposit.class);

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> Repository.builder(
                Account.class, store).serializer(new JacksonEventSerializer(shared)).build());

        String message = refused.getMessage();
        assertTrue(message.contains("handler handleAccountCredited(AccountCredited) of " + Account.class.getName() + " takes")
                && message.contains("already registered for " + Deposit.class.getName()), message);
    }

    @Test
    void aClassWithoutANoArgumentConstructorIsRefusedUpFront() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> Repository.of(NoDefaultConstructor.class, store));

        assertTrue(error.getMessage().contains("no-argument constructor"), error.getMessage());
    }

    /** Declared without static: its constructor, without parameters in the source, takes a RepositoryTest. */
    class InnerAccount extends Aggregate {
        InnerAccount() {
        }
    }

    @Test
    void anInnerClassIsRefusedSayingToDeclareItStaticNotToAddTheConstructorItHas() {
        IllegalArgumentException error = assertThrows(IllegalArgumentException.class,
                () -> Repository.of(InnerAccount.class, store));

        assertEquals(InnerAccount.class.getName() + " is an inner class of " + RepositoryTest.class.getName()
                + ": its constructors take the RepositoryTest it belongs to, so even one declared without parameters is"
                + " no no-argument constructor the Repository can call. Declare it static, or give it a file of its own",
                error.getMessage());
    }

    /** An anonymous aggregate class: its simple name is empty. */
    private static final Aggregate ANONYMOUS = new Aggregate() {
        private long balance;

        private void handleAccountCredited(AccountCredited e) {
            balance += e.amount();
        }
    };

    @Test
    @SuppressWarnings({"unchecked", "rawtypes"})
    void anAnonymousClassNeedsACategoryNamedForItsStreams() {
        Class<Aggregate> anonymous = (Class) ANONYMOUS.getClass();

        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> Repository.of(anonymous, store));

        assertTrue(refused.getMessage().startsWith(anonymous.getName() + " is an anonymous class")
                && refused.getMessage().contains(".category(name)"), refused.getMessage());
        Repository.builder(anonymous, store).category("Anonymous").build().update("1", a -> a.update(new AccountCredited(2)));
        assertEquals(List.of("Anonymous-1"), store.readAll(0, 10).stream().map(RecordedEvent::streamId).toList());
    }

    @Test
    void badIdsAndArgumentsAreRefused() {
        assertThrows(IllegalArgumentException.class, () -> accounts.load(null));
        assertThrows(IllegalArgumentException.class, () -> accounts.load(" "));
        assertThrows(IllegalArgumentException.class, () -> accounts.update("1", null));
        assertThrows(IllegalArgumentException.class, () -> Repository.of(Account.class, null));
        assertThrows(IllegalArgumentException.class, () -> Repository.builder(Account.class, store).maxAttempts(0));
    }

    @Test
    void saveRefusesAnAggregateNoRepositoryLoadedAsABadArgumentSayingToLoadIt() {
        IllegalArgumentException refused = assertThrows(IllegalArgumentException.class, () -> accounts.save(new Account()));

        assertEquals("aggregate Account was not loaded by a Repository, so it has no id or stream: get it with"
                + " repository.load(id) before saving it", refused.getMessage());
    }

    @Test
    void aRecordedEventWithoutAHandlerOrDecoderFailsTheLoadNamingIt() {
        store.append("Account-9", ExpectedVersion.NO_STREAM,
                List.of(EventData.of("AccountFrozen", "{}".getBytes(StandardCharsets.UTF_8), Map.of())));
        store.append("Account-8", ExpectedVersion.NO_STREAM,
                List.of(EventData.of("AccountCredited", "{\"amount\":\"x\"}".getBytes(StandardCharsets.UTF_8), Map.of())));

        EventDecodingException unknown = assertThrows(EventDecodingException.class, () -> accounts.load("9"));
        EventDecodingException corrupt = assertThrows(EventDecodingException.class, () -> accounts.load("8"));

        assertTrue(unknown.getMessage().contains("Account-9@0") && unknown.getMessage().contains("AccountFrozen"));
        assertTrue(corrupt.getMessage().contains("Account-8@0") && corrupt.getMessage().contains("AccountCredited"));
    }

    @Test
    void replayingAnEventTheAggregateCannotHandleFailsFastNamingTheStreamVersionAndType() {
        record Stray(int n) {}
        accounts.serializer().eventTypes().register(Stray.class);
        accounts.update("5", a -> a.open("ana"));
        store.append("Account-5", 0,
                List.of(EventData.of("Stray", "{\"n\":1}".getBytes(StandardCharsets.UTF_8), Map.of())));

        MissingHandlerException missing = assertThrows(MissingHandlerException.class, () -> accounts.load("5"));

        assertTrue(missing.getMessage().startsWith("Cannot load Account-5: " + Account.class.getName() + " has no handler")
                && missing.getMessage().contains("'void handleStray(Stray event)'")
                && missing.getMessage().endsWith("(replaying version 1, type 'Stray', position 2)"), missing.getMessage());
    }
}
