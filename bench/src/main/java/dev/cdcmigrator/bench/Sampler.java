package dev.cdcmigrator.bench;

import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;

/** Samples thread CPU of this JVM and the PSS of the watched clusters twice a second, for peaks and dead threads. */
final class Sampler implements AutoCloseable {

    private final JvmStats jvm;
    private final List<ClusterProcs> clusters = new CopyOnWriteArrayList<>();
    private final Thread thread;
    private volatile boolean stopped;

    Sampler(JvmStats jvm) {
        this.jvm = jvm;
        this.thread = new Thread(this::run, "harness-sampler");
        this.thread.setDaemon(true);
        this.thread.start();
    }

    void watch(ClusterProcs cluster) {
        clusters.add(cluster);
    }

    void unwatch(ClusterProcs cluster) {
        clusters.remove(cluster);
    }

    private void run() {
        while (!stopped) {
            jvm.sample();
            clusters.forEach(ClusterProcs::sample);
            try {
                Thread.sleep(500);
            } catch (InterruptedException e) {
                return;
            }
        }
    }

    @Override
    public void close() {
        stopped = true;
        thread.interrupt();
    }
}
