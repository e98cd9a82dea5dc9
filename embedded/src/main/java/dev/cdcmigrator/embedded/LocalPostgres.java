package dev.cdcmigrator.embedded;

import java.io.File;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.charset.StandardCharsets;
import java.nio.file.DirectoryStream;
import java.nio.file.FileVisitResult;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.SimpleFileVisitor;
import java.nio.file.attribute.BasicFileAttributes;
import java.nio.file.attribute.PosixFileAttributes;
import java.nio.file.attribute.PosixFilePermission;
import java.nio.file.attribute.PosixFilePermissions;
import java.nio.file.attribute.UserPrincipalNotFoundException;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.Set;
import java.util.concurrent.TimeUnit;
import java.util.function.Supplier;
import java.util.stream.Collectors;
import java.util.stream.Stream;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A PostgreSQL cluster started from the local binaries in its own directory, on a free 127.0.0.1 port,
 * wal_level=logical, max_slot_wal_keep_size=10GB.
 *
 * <p>Meant for throwaway databases (tests, the demo): durability is switched off and every local connection is
 * trusted. When the JVM runs as root the server binaries run as the {@code postgres} OS user, because PostgreSQL
 * refuses to run as root.
 */
public final class LocalPostgres implements AutoCloseable {

    private static final Logger LOG = LoggerFactory.getLogger(LocalPostgres.class);

    private static final String HOST = "127.0.0.1";
    private static final String SUPERUSER = "postgres";
    private static final String OS_USER = "postgres";
    private static final List<String> SERVER_BINARIES = List.of("initdb", "pg_ctl", "postgres");
    private static final Path DEBIAN_VERSIONS_DIR = Path.of("/usr/lib/postgresql");
    private static final String LOG_FILE = "postgres.log";
    private static final String CONFIG_MARKER = "# ---- managed by LocalPostgres, rewritten on every start ----";
    // sun_path holds 108 bytes including the terminating NUL on Linux (104 on macOS; the server checks that itself).
    private static final int MAX_SOCKET_PATH = 107;
    private static final int START_ATTEMPTS = 3;
    private static final int PG_CTL_WAIT_SECONDS = 60;
    private static final Duration PG_CTL_TIMEOUT = Duration.ofSeconds(PG_CTL_WAIT_SECONDS + 30);
    private static final Duration INITDB_TIMEOUT = Duration.ofMinutes(2);
    private static final Duration CLIENT_TIMEOUT = Duration.ofSeconds(60);
    private static final Duration PROBE_TIMEOUT = Duration.ofSeconds(10);
    private static final int LOG_TAIL_LINES = 25;

    private final Path binDir;
    private final Path dataDir;
    private final boolean runAsPostgresUser;
    private final int port;
    private final Thread shutdownHook;
    private boolean running;
    private boolean closed;

    private LocalPostgres(Path binDir, Path dataDir, boolean runAsPostgresUser, int port) {
        this.binDir = binDir;
        this.dataDir = dataDir;
        this.runAsPostgresUser = runAsPostgresUser;
        this.port = port;
        this.shutdownHook = new Thread(this::stopOnJvmExit, "local-postgres-shutdown-" + port);
    }

    /**
     * Finds the binaries (see {@link #findBinDir()}), initdb's a new cluster in {@code dataDir} if it is empty or
     * absent, configures it and starts it.
     *
     * <p>A non-empty {@code dataDir} must hold a cluster created earlier by this class; it is reconfigured for a new
     * free port and started.
     *
     * @param dataDir the cluster directory; when running as root it is handed to the {@code postgres} OS user and its
     *     ancestors get search permission for others where they lack it
     * @return the running cluster
     * @throws IllegalStateException if no binaries are found or the cluster cannot be created or started; the message
     *     carries the tool output or the end of the server log
     */
    public static LocalPostgres start(Path dataDir) {
        Path binDir = findBinDir().orElseThrow(() -> new IllegalStateException(
                "No PostgreSQL server binaries found (initdb, pg_ctl, postgres and psql in one directory, looked up via "
                        + "`pg_config --bindir`, initdb on PATH and " + DEBIAN_VERSIONS_DIR + "/*/bin). "
                        + "Install them, e.g. `apt-get install postgresql`."));
        boolean asRoot = runningAsRoot();
        Path dir = dataDir.toAbsolutePath().normalize();
        prepareDirectory(dir, asRoot);
        if (isEmpty(dir)) {
            initdb(binDir, dir, asRoot);
        } else if (!Files.exists(dir.resolve("PG_VERSION"))) {
            throw new IllegalStateException(dir + " is neither empty nor a PostgreSQL data directory");
        }
        writeHba(dir);

        StartFailure lastFailure = null;
        for (int attempt = 1; attempt <= START_ATTEMPTS; attempt++) {
            int port = freePort();
            writeConfig(dir, port);
            LocalPostgres postgres = new LocalPostgres(binDir, dir, asRoot, port);
            try {
                postgres.startServer();
            } catch (StartFailure failure) {
                // The port was free when probed but another process may have bound it before the server did.
                if (!failure.portInUse) {
                    throw failure;
                }
                LOG.info("Port {} was taken before PostgreSQL could bind it (attempt {} of {})",
                        port, attempt, START_ATTEMPTS);
                lastFailure = failure;
                continue;
            }
            Runtime.getRuntime().addShutdownHook(postgres.shutdownHook);
            LOG.info("Started PostgreSQL from {} on {}:{} with data in {}", binDir, HOST, port, dir);
            return postgres;
        }
        throw lastFailure;
    }

    /**
     * Looks for one directory that holds {@code initdb}, {@code pg_ctl}, {@code postgres} (all of the same version)
     * and {@code psql}: first {@code pg_config --bindir} if pg_config is on PATH, then the directory of the
     * {@code initdb} found on PATH (symlinks resolved), then the highest {@code /usr/lib/postgresql/<version>/bin}.
     *
     * <p>Useful to decide between local binaries and a container.
     *
     * @return the binary directory, or empty if no usable one exists
     */
    public static Optional<Path> findBinDir() {
        return Stream.<Supplier<Optional<Path>>>of(
                        LocalPostgres::binDirFromPgConfig,
                        LocalPostgres::binDirOfInitdbOnPath,
                        LocalPostgres::highestDebianBinDir)
                .map(Supplier::get)
                .flatMap(Optional::stream)
                .findFirst();
    }

    /** @return the address the server listens on, {@code 127.0.0.1} */
    public String host() {
        return HOST;
    }

    /** @return the TCP port the server listens on; it stays the same across {@link #restart()} */
    public int port() {
        return port;
    }

    /** @return the superuser name, {@code postgres}; any password is accepted on 127.0.0.1 */
    public String user() {
        return SUPERUSER;
    }

    /**
     * @param database the database name
     * @return {@code jdbc:postgresql://127.0.0.1:<port>/<database>}
     */
    public String jdbcUrl(String database) {
        return "jdbc:postgresql://" + HOST + ":" + port + "/" + database;
    }

    /**
     * Creates a database owned by the superuser.
     *
     * @param name the database name, used verbatim (case-sensitive, any characters)
     * @throws IllegalStateException if psql fails, e.g. because the database exists or the server is stopped
     */
    public synchronized void createDatabase(String name) {
        requireOpen();
        run(List.of(binDir.resolve("psql").toString(), "-X", "-q",
                        "-h", HOST, "-p", Integer.toString(port), "-U", SUPERUSER, "-d", "postgres",
                        "-v", "ON_ERROR_STOP=1",
                        "-c", "CREATE DATABASE \"" + name.replace("\"", "\"\"") + "\""),
                CLIENT_TIMEOUT);
    }

    /**
     * Stops the server with a fast shutdown (sessions are disconnected, data is kept). Does nothing if it is already
     * stopped.
     */
    public synchronized void stop() {
        requireOpen();
        if (running) {
            stopServer("fast");
        }
    }

    /**
     * Starts the server again on the same port, typically after {@link #stop()}; if it is running it is stopped
     * (fast) first.
     *
     * @throws IllegalStateException if it does not start, e.g. because another process took the port meanwhile
     */
    public synchronized void restart() {
        requireOpen();
        if (running) {
            stopServer("fast");
        }
        startServer();
    }

    /** Stops the server (immediate shutdown, no checkpoint) and deletes the data directory. Idempotent. */
    @Override
    public synchronized void close() {
        if (closed) {
            return;
        }
        closed = true;
        try {
            Runtime.getRuntime().removeShutdownHook(shutdownHook);
        } catch (IllegalStateException jvmShuttingDown) {
            // close() was itself called from a shutdown hook; ours runs concurrently and finds the server stopped.
        }
        try {
            if (running) {
                stopServer("immediate");
            }
        } finally {
            deleteRecursively(dataDir);
        }
    }

    @Override
    public String toString() {
        return "LocalPostgres[" + HOST + ":" + port + ", " + dataDir + (running ? "" : ", stopped") + "]";
    }

    private synchronized void stopOnJvmExit() {
        if (running) {
            try {
                stopServer("immediate");
            } catch (RuntimeException e) {
                LOG.warn("Could not stop PostgreSQL in {} at JVM exit", dataDir, e);
            }
        }
    }

    private void startServer() {
        Path log = dataDir.resolve(LOG_FILE);
        long logOffset = fileSize(log);
        try {
            run(serverCommand(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-l", log.toString(),
                    "-w", "-t", Integer.toString(PG_CTL_WAIT_SECONDS), "start"), PG_CTL_TIMEOUT);
        } catch (IllegalStateException e) {
            String newLog = readFrom(log, logOffset);
            // After a wait timeout the postmaster may still come up later; do not leave it behind.
            stopQuietly();
            throw new StartFailure("PostgreSQL in " + dataDir + " did not start on port " + port + ": "
                    + e.getMessage() + "\nLast lines of " + log + ":\n" + lastLines(newLog),
                    newLog.contains("Address already in use"), e);
        }
        running = true;
    }

    private void stopServer(String mode) {
        run(serverCommand(binDir.resolve("pg_ctl").toString(), "-D", dataDir.toString(), "-m", mode,
                "-w", "-t", Integer.toString(PG_CTL_WAIT_SECONDS), "stop"), PG_CTL_TIMEOUT);
        running = false;
    }

    private void stopQuietly() {
        try {
            stopServer("immediate");
        } catch (IllegalStateException notRunning) {
            LOG.debug("No server to stop in {}", dataDir, notRunning);
        }
    }

    private void requireOpen() {
        if (closed) {
            throw new IllegalStateException(this + " is closed");
        }
    }

    private List<String> serverCommand(String... command) {
        return asServerUser(runAsPostgresUser, List.of(command));
    }

    private static List<String> asServerUser(boolean asRoot, List<String> command) {
        if (!asRoot) {
            return command;
        }
        List<String> wrapped = new ArrayList<>(List.of("runuser", "-u", OS_USER, "--"));
        wrapped.addAll(command);
        return wrapped;
    }

    private static boolean runningAsRoot() {
        return "0".equals(run(List.of("id", "-u"), PROBE_TIMEOUT).trim());
    }

    private static void prepareDirectory(Path dir, boolean asRoot) {
        try {
            Files.createDirectories(dir);
            if (asRoot) {
                makeAncestorsSearchable(dir);
                Files.setOwner(dir, dir.getFileSystem().getUserPrincipalLookupService().lookupPrincipalByName(OS_USER));
                Files.setPosixFilePermissions(dir, PosixFilePermissions.fromString("rwx------"));
            }
        } catch (UserPrincipalNotFoundException e) {
            throw new IllegalStateException("Running as root, PostgreSQL must run as the OS user '" + OS_USER
                    + "', which does not exist (installing the postgresql package creates it)", e);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not prepare " + dir + " for PostgreSQL", e);
        }
    }

    /** The postgres OS user must be able to walk down to the data directory, e.g. through a 0700 JUnit temp dir. */
    private static void makeAncestorsSearchable(Path dir) throws IOException {
        for (Path ancestor = dir.getParent(); ancestor != null; ancestor = ancestor.getParent()) {
            PosixFileAttributes attributes = Files.readAttributes(ancestor, PosixFileAttributes.class);
            if (attributes.permissions().contains(PosixFilePermission.OTHERS_EXECUTE)
                    || attributes.owner().getName().equals(OS_USER)) {
                continue;
            }
            Set<PosixFilePermission> permissions = EnumSet.noneOf(PosixFilePermission.class);
            permissions.addAll(attributes.permissions());
            permissions.add(PosixFilePermission.OTHERS_EXECUTE);
            Files.setPosixFilePermissions(ancestor, permissions);
            LOG.info("Granted others search permission (o+x) on {} so that the {} OS user can reach {}",
                    ancestor, OS_USER, dir);
        }
    }

    private static void initdb(Path binDir, Path dir, boolean asRoot) {
        run(asServerUser(asRoot, List.of(binDir.resolve("initdb").toString(), "-D", dir.toString(),
                "--auth=trust", "-U", SUPERUSER, "-E", "UTF8", "--locale=C", "--no-sync")), INITDB_TIMEOUT);
    }

    private static void writeHba(Path dir) {
        // Debezium opens a replication-protocol connection next to ordinary ones; only loopback is reachable anyway.
        write(dir.resolve("pg_hba.conf"), String.join("\n",
                "local all all trust",
                "local replication all trust",
                "host all all 127.0.0.1/32 trust",
                "host replication all 127.0.0.1/32 trust",
                ""));
    }

    private static void writeConfig(Path dir, int port) {
        Path conf = dir.resolve("postgresql.conf");
        String current = read(conf);
        int marker = current.indexOf(CONFIG_MARKER);
        String base = marker < 0 ? current : current.substring(0, marker);
        // A socket in the cluster directory keeps clear of the system server's /var/run/postgresql; if its path
        // would be too long the server could not start, and all clients use TCP anyway.
        String socketDir = (dir + "/.s.PGSQL." + port).getBytes(StandardCharsets.UTF_8).length <= MAX_SOCKET_PATH
                ? dir.toString()
                : "";
        write(conf, base + CONFIG_MARKER + "\n" + String.join("\n",
                "listen_addresses = '" + HOST + "'",
                "port = " + port,
                "unix_socket_directories = " + quote(socketDir),
                "wal_level = logical",
                "max_replication_slots = 20",
                "max_wal_senders = 20",
                // A replication slot left behind must not fill the disk (migrator check warns when this is unlimited).
                "max_slot_wal_keep_size = 10GB",
                "max_connections = 200",
                "shared_buffers = 128MB",
                // Throwaway data: durability only costs time.
                "fsync = off",
                "synchronous_commit = off",
                "full_page_writes = off",
                ""));
    }

    private static String quote(String value) {
        return "'" + value.replace("'", "''") + "'";
    }

    private static int freePort() {
        try (ServerSocket socket = new ServerSocket(0, 1, InetAddress.getByName(HOST))) {
            return socket.getLocalPort();
        } catch (IOException e) {
            throw new UncheckedIOException("Could not find a free port on " + HOST, e);
        }
    }

    private static Optional<Path> binDirFromPgConfig() {
        return onPath("pg_config")
                .flatMap(pgConfig -> probe(List.of(pgConfig.toString(), "--bindir")))
                .map(Path::of)
                .filter(LocalPostgres::isServerBinDir);
    }

    private static Optional<Path> binDirOfInitdbOnPath() {
        // /usr/local/bin/initdb may be a symlink into a versioned directory or a lone copy; the real directory is
        // where its matching pg_ctl and postgres live.
        return onPath("initdb").flatMap(initdb -> Stream.of(realPath(initdb).getParent(), initdb.getParent())
                .distinct()
                .filter(LocalPostgres::isServerBinDir)
                .findFirst());
    }

    private static Optional<Path> highestDebianBinDir() {
        if (!Files.isDirectory(DEBIAN_VERSIONS_DIR)) {
            return Optional.empty();
        }
        try (Stream<Path> versions = Files.list(DEBIAN_VERSIONS_DIR)) {
            return versions
                    .filter(v -> v.getFileName().toString().matches("\\d+(\\.\\d+)*"))
                    .sorted(Comparator.comparing(LocalPostgres::versionParts, Arrays::compare).reversed())
                    .map(v -> v.resolve("bin"))
                    .filter(LocalPostgres::isServerBinDir)
                    .findFirst();
        } catch (IOException e) {
            LOG.debug("Could not list {}", DEBIAN_VERSIONS_DIR, e);
            return Optional.empty();
        }
    }

    private static int[] versionParts(Path versionDir) {
        return Arrays.stream(versionDir.getFileName().toString().split("\\.")).mapToInt(Integer::parseInt).toArray();
    }

    /** Mixing initdb, pg_ctl and postgres of different versions fails at initdb or start time, so insist on one. */
    private static boolean isServerBinDir(Path dir) {
        if (!Stream.concat(SERVER_BINARIES.stream(), Stream.of("psql"))
                .map(dir::resolve)
                .allMatch(f -> Files.isRegularFile(f) && Files.isExecutable(f))) {
            return false;
        }
        List<Optional<String>> versions = SERVER_BINARIES.stream()
                .map(binary -> probe(List.of(dir.resolve(binary).toString(), "--version"))
                        // "initdb (PostgreSQL) 15.20 (Debian ...)": compare what follows the program name.
                        .map(output -> output.substring(output.indexOf(' ') + 1)))
                .collect(Collectors.toList());
        boolean consistent = versions.get(0).isPresent() && versions.stream().distinct().count() == 1;
        if (!consistent) {
            LOG.debug("Ignoring {}: versions of {} are {}", dir, SERVER_BINARIES, versions);
        }
        return consistent;
    }

    private static Optional<Path> onPath(String executable) {
        String path = System.getenv("PATH");
        if (path == null) {
            return Optional.empty();
        }
        return Arrays.stream(path.split(File.pathSeparator))
                .filter(entry -> !entry.isEmpty())
                .map(entry -> Path.of(entry, executable))
                .filter(f -> Files.isRegularFile(f) && Files.isExecutable(f))
                .findFirst();
    }

    private static Path realPath(Path file) {
        try {
            return file.toRealPath();
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static Optional<String> probe(List<String> command) {
        try {
            return Optional.of(run(command, PROBE_TIMEOUT).trim());
        } catch (RuntimeException e) {
            LOG.debug("{} failed", command, e);
            return Optional.empty();
        }
    }

    /**
     * Runs a command to completion with stdout and stderr going to a file, so a chatty child can never block on a
     * full pipe and a daemonised postmaster holds no pipe of ours open.
     *
     * @return the combined output
     * @throws IllegalStateException if the command fails, times out or cannot be started
     */
    private static String run(List<String> command, Duration timeout) {
        Path output = null;
        Process process = null;
        try {
            output = Files.createTempFile("local-postgres-", ".out");
            ProcessBuilder builder = new ProcessBuilder(command)
                    // The child may run as the postgres OS user, who cannot necessarily enter the JVM's directory.
                    .directory(new File("/"))
                    .redirectErrorStream(true)
                    .redirectOutput(output.toFile());
            // PGHOST, PGPORT, PGDATA, PGOPTIONS... from the caller's shell would redirect or alter the tools.
            builder.environment().keySet().removeIf(name -> name.startsWith("PG"));
            process = builder.start();
            process.getOutputStream().close();
            boolean finished = process.waitFor(timeout.toMillis(), TimeUnit.MILLISECONDS);
            if (!finished) {
                destroy(process);
                throw new IllegalStateException(describe(command) + " did not finish within " + timeout.toSeconds()
                        + "s; output so far:\n" + lastLines(readFrom(output, 0)));
            }
            String text = readFrom(output, 0);
            if (process.exitValue() != 0) {
                throw new IllegalStateException(describe(command) + " exited with " + process.exitValue()
                        + ":\n" + lastLines(text));
            }
            return text;
        } catch (IOException e) {
            throw new IllegalStateException("Could not run " + describe(command) + ": " + e.getMessage(), e);
        } catch (InterruptedException e) {
            destroy(process);
            Thread.currentThread().interrupt();
            throw new IllegalStateException("Interrupted while running " + describe(command), e);
        } finally {
            if (output != null) {
                try {
                    Files.deleteIfExists(output);
                } catch (IOException e) {
                    LOG.debug("Could not delete {}", output, e);
                }
            }
        }
    }

    private static void destroy(Process process) {
        // runuser does not pass SIGKILL on to its child, so kill the whole tree.
        process.descendants().forEach(ProcessHandle::destroyForcibly);
        process.destroyForcibly();
    }

    private static String describe(List<String> command) {
        return "`" + String.join(" ", command) + "`";
    }

    private static String lastLines(String text) {
        List<String> lines = text.lines().collect(Collectors.toList());
        return String.join("\n", lines.subList(Math.max(0, lines.size() - LOG_TAIL_LINES), lines.size()));
    }

    private static boolean isEmpty(Path dir) {
        try (DirectoryStream<Path> entries = Files.newDirectoryStream(dir)) {
            return !entries.iterator().hasNext();
        } catch (IOException e) {
            throw new UncheckedIOException("Could not list " + dir, e);
        }
    }

    private static long fileSize(Path file) {
        try {
            return Files.exists(file) ? Files.size(file) : 0;
        } catch (IOException e) {
            throw new UncheckedIOException(e);
        }
    }

    private static String readFrom(Path file, long offset) {
        try {
            byte[] bytes = Files.readAllBytes(file);
            int from = (int) Math.min(offset, bytes.length);
            // Lenient decoding: server messages may be in any encoding and are only shown to humans.
            return new String(bytes, from, bytes.length - from, StandardCharsets.UTF_8);
        } catch (NoSuchFileException e) {
            return "";
        } catch (IOException e) {
            return "(could not read " + file + ": " + e.getMessage() + ")";
        }
    }

    private static String read(Path file) {
        try {
            return Files.readString(file);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not read " + file, e);
        }
    }

    /** Overwrites in place, so a file initdb created for the postgres OS user keeps its owner. */
    private static void write(Path file, String content) {
        try {
            Files.writeString(file, content);
        } catch (IOException e) {
            throw new UncheckedIOException("Could not write " + file, e);
        }
    }

    private static void deleteRecursively(Path dir) {
        if (!Files.exists(dir)) {
            return;
        }
        try {
            Files.walkFileTree(dir, new SimpleFileVisitor<>() {
                @Override
                public FileVisitResult visitFile(Path file, BasicFileAttributes attrs) throws IOException {
                    Files.delete(file);
                    return FileVisitResult.CONTINUE;
                }

                @Override
                public FileVisitResult postVisitDirectory(Path directory, IOException e) throws IOException {
                    if (e != null) {
                        throw e;
                    }
                    Files.delete(directory);
                    return FileVisitResult.CONTINUE;
                }
            });
        } catch (IOException e) {
            throw new UncheckedIOException("Could not delete " + dir, e);
        }
    }

    private static final class StartFailure extends IllegalStateException {
        private final boolean portInUse;

        StartFailure(String message, boolean portInUse, Throwable cause) {
            super(message, cause);
            this.portInUse = portInUse;
        }
    }
}
