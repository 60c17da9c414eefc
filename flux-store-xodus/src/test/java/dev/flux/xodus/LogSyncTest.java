package dev.flux.xodus;

import jetbrains.exodus.ArrayByteIterable;
import jetbrains.exodus.env.Environment;
import jetbrains.exodus.env.EnvironmentConfig;
import jetbrains.exodus.env.Environments;
import jetbrains.exodus.env.Store;
import jetbrains.exodus.env.StoreConfig;
import jetbrains.exodus.log.LogUtil;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

import java.io.IOException;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Set;
import java.util.TreeSet;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;

/** The store's own sync reaches every log file the commits since the last sync wrote to. */
class LogSyncTest {
    @TempDir
    Path directory;

    @Test
    void aSyncForcesEveryFileWrittenSinceTheLastOneWhenTheLogMovesOnAcrossFiles() throws IOException {
        Environment environment = Environments.newInstance(directory.toFile(), new EnvironmentConfig()
                .setLogDurableWrite(false).setLogFileSize(128).setGcEnabled(false));
        Set<String> forced = new TreeSet<>();
        try (LogSync sync = new LogSync(environment, directory) {
            @Override
            FileChannel open(long file) throws IOException {
                forced.add(LogUtil.getLogFilename(file));
                return super.open(file);
            }
        }) {
            sync.force(0); // nothing written yet: nothing to do
            Store store = environment.computeInExclusiveTransaction(txn ->
                    environment.openStore("s", StoreConfig.WITHOUT_DUPLICATES_WITH_PREFIXING, txn));
            byte[] value = new byte[20_000];
            for (int commit = 0; commit < 60; commit++) {
                int key = commit;
                environment.executeInExclusiveTransaction(txn ->
                        store.put(txn, new ArrayByteIterable(new byte[] {(byte) key}), new ArrayByteIterable(value)));
                if (commit % 7 == 6) {       // several commits, often several files, between syncs
                    sync.force(sync.end());
                }
            }
            sync.force(sync.end());
        } finally {
            environment.close();
        }
        Set<String> files;
        try (Stream<Path> listing = Files.list(directory)) {
            files = listing.map(path -> path.getFileName().toString()).filter(LogUtil::isLogFileName)
                    .collect(Collectors.toCollection(TreeSet::new));
        }
        assertTrue(files.size() > 5, "the log moved across files: " + files);
        assertEquals(files, forced, "every log file was forced");
    }
}
