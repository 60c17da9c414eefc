package dev.flux.benchmarks;

import org.junit.jupiter.api.Test;
import org.openjdk.jmh.runner.BenchmarkException;
import org.openjdk.jmh.runner.RunnerException;

import java.util.List;
import java.util.Map;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertThrows;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The target runner's arguments, ratios and verdicts, checked without running a benchmark. */
class TargetsTest {

    private static Targets.Target target(String name) {
        return Targets.TARGETS.stream().filter(t -> t.name().equals(name)).findFirst().orElseThrow();
    }

    private static List<String> names(Targets.Request request) {
        return request.targets().stream().map(Targets.Target::name).toList();
    }

    @Test
    void noArgumentsRunsEveryTargetInThreeFullRounds() {
        Targets.Request request = Targets.parse(new String[0]);

        assertEquals(List.of("dispatch", "save", "rehydrate-1k", "rehydrate-100k", "global-log", "xodus-16-writers"),
                names(request));
        assertEquals(3, request.rounds());
        assertFalse(request.quick());
        assertFalse(request.help());
    }

    @Test
    void namesTheReadmeGivesPickThoseTargetsWithTheOptions() {
        Targets.Request request = Targets.parse(new String[]{"xodus-16-writers", "--rounds", "1", "dispatch", "--quick",
                "save"});

        assertEquals(List.of("dispatch", "save", "xodus-16-writers"), names(request));
        assertEquals(1, request.rounds());
        assertTrue(request.quick());
    }

    @Test
    void helpIsAnsweredBeforeAnyTargetIsLookedUp() {
        assertTrue(Targets.parse(new String[]{"--help", "nosuch"}).help());
        assertTrue(Targets.parse(new String[]{"--help"}).help());
        assertTrue(Targets.parse(new String[]{"-h"}).help());
    }

    @Test
    void badArgumentsAreNamed() {
        assertEquals("unknown targets [nosuch]",
                assertThrows(IllegalArgumentException.class, () -> Targets.parse(new String[]{"dispatch", "nosuch"}))
                        .getMessage());
        assertEquals("unknown option '--quik'",
                assertThrows(IllegalArgumentException.class, () -> Targets.parse(new String[]{"--quik"})).getMessage());
        assertEquals("--rounds needs a number",
                assertThrows(IllegalArgumentException.class, () -> Targets.parse(new String[]{"--rounds"})).getMessage());
        assertEquals("--rounds needs a number, was 'x'",
                assertThrows(IllegalArgumentException.class, () -> Targets.parse(new String[]{"--rounds", "x"}))
                        .getMessage());
        assertEquals("--rounds must be at least 1, was 0",
                assertThrows(IllegalArgumentException.class, () -> Targets.parse(new String[]{"--rounds", "0"}))
                        .getMessage());
    }

    @Test
    void aTimePerOperationRatioIsFluxOverBaseline() {
        Targets.Verdict verdict = Targets.judge(target("dispatch"), new double[]{9, 6, 7}, new double[]{3, 3, 3});

        assertEquals(7.0 / 3, verdict.ratio(), 1e-9);
        assertFalse(verdict.met());
        assertTrue(Targets.judge(target("dispatch"), new double[]{6}, new double[]{3}).met());   // exactly 2x
        assertTrue(Targets.judge(target("save"), new double[]{450}, new double[]{300}).met());  // exactly 1.5x
    }

    @Test
    void aThroughputRatioIsBaselineOverFluxSoThatItIsStillTimeOverTime() {
        // the list reads 150 M events/s, flux 100 M: flux takes 1.5 times as long
        assertTrue(Targets.judge(target("global-log"), new double[]{100e6}, new double[]{150e6}).met());
        Targets.Verdict slower = Targets.judge(target("global-log"), new double[]{99e6}, new double[]{150e6});
        assertEquals(150.0 / 99, slower.ratio(), 1e-9);
        assertFalse(slower.met());
    }

    @Test
    void rehydrationMustAlsoReachAMillionEventsPerSecond() {
        Targets.Target rehydrate = target("rehydrate-100k");

        assertTrue(Targets.judge(rehydrate, new double[]{1.0e6}, new double[]{1.2e6}).met());
        Targets.Verdict tooSlow = Targets.judge(rehydrate, new double[]{0.9e6}, new double[]{0.5e6});
        assertEquals(0.5 / 0.9, tooSlow.ratio(), 1e-9);
        assertFalse(tooSlow.met());
        assertEquals("<= 1.3x and >= 1 M events/s", rehydrate.targetText());
    }

    @Test
    void sixteenWritersMustSaveAtLeastEightTimesWhatOneDoes() {
        Targets.Target xodus = target("xodus-16-writers");

        assertTrue(Targets.judge(xodus, new double[]{16_000}, new double[]{2_000}).met());
        Targets.Verdict fewer = Targets.judge(xodus, new double[]{15_000}, new double[]{2_000});
        assertEquals(7.5, fewer.ratio(), 1e-9);
        assertFalse(fewer.met());
        assertEquals(">= 8.0x", xodus.targetText());
    }

    @Test
    void theVerdictIsOnTheMedianRoundNotTheMean() {
        // rounds of 1.0x, 1.0x and 10x: the mean would miss 2x, the median meets it
        Targets.Verdict verdict = Targets.judge(target("dispatch"), new double[]{3, 3, 30}, new double[]{3, 3, 3});
        assertEquals(1.0, verdict.ratio(), 1e-9);
        assertTrue(verdict.met());
        assertEquals(2.0, Targets.judge(target("dispatch"), new double[]{3, 9}, new double[]{3, 3}).ratio(), 1e-9);
    }

    @Test
    void aFailedRunIsReportedByTheBenchmarksOwnException() {
        RunnerException thrown = new RunnerException("Benchmark caught the exception", new BenchmarkException(
                "Benchmark error during the run", List.of(new IllegalStateException("the disk is full"))));

        assertEquals("java.lang.IllegalStateException: the disk is full", Targets.failure(thrown));
        assertEquals("java.lang.IllegalStateException: the disk is full",
                Targets.failure(new RunnerException(new IllegalStateException("the disk is full"))));
        assertEquals("org.openjdk.jmh.runner.RunnerException: no benchmark", Targets.failure(new RunnerException("no benchmark")));
    }

    @Test
    void theRerunCommandSelectsExactlyTheFailedBenchmarkWithItsParameters() {
        assertEquals("java -jar flux-benchmarks/target/benchmarks.jar '^dev.flux.X.y$' -p durable=true -f 1 -wi 0 -i 1",
                Targets.rerun("dev.flux.X.y", Map.of("durable", "true")));
    }
}
