package dev.cdcmigrator.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.cdcmigrator.cli.internal.HttpEndpoints;
import dev.cdcmigrator.cli.internal.HttpProbe;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermission;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Properties;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.TimeUnit;
import java.util.stream.Stream;
import java.util.zip.GZIPInputStream;
import java.util.zip.ZipEntry;
import java.util.zip.ZipInputStream;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The container image the build writes to cli/target/jib-image.tar (Jib, in the package phase, hence an integration
 * test): the tarball holds a manifest, the config and every layer it names; it is tagged with the version and with
 * version and commit, and labelled with the commit; the config runs the migrator's main class with the Java runtime
 * inside the image as a non-root user that exists in /etc/passwd, with two malloc arenas, exposes the HTTP port, works
 * in a directory that user can write; the runtime is there with the modules the migrator needs; every shared library
 * that the runtime's and the bundled JNI libraries' ELF files need is in the image, as is their loader. Where the test
 * runs as root on Linux with util-linux's unshare, it also runs the image's entrypoint with {@code --version} inside
 * the unpacked image as its user, the way a container runtime would (chroot, own /proc, the config's environment).
 */
class ContainerImageIT {

    private static final ObjectMapper JSON = new ObjectMapper();

    /** The image's files: path without leading slash -> entry. */
    private static final Map<String, TarEntry> FILES = new LinkedHashMap<>();
    private static JibImage configured;
    private static JsonNode manifest;
    private static JsonNode config;

    record TarEntry(String path, char type, int mode, int uid, byte[] content) {
        boolean directory() {
            return type == '5';
        }
    }

    @BeforeAll
    static void readTheTarball() throws IOException {
        assumeTrue(System.getProperty("os.name").equals("Linux"), "the image is built on Linux hosts only (cli/pom.xml)");
        assumeTrue(!Boolean.getBoolean("jib.skip"), "-Djib.skip=true: no image built");
        configured = JibImage.configured();
        assertThat(configured.tarball()).as("the image tarball; build it with ./mvnw -B -pl cli -am package -DskipTests").isRegularFile();
        Map<String, byte[]> outer = new LinkedHashMap<>();
        try (InputStream in = Files.newInputStream(configured.tarball())) {
            for (TarEntry e : readTar(in)) {
                outer.put(e.path(), e.content());
            }
        }
        assertThat(outer).as("entries of %s", configured.tarball()).containsKeys("manifest.json");
        manifest = JSON.readTree(outer.get("manifest.json"));
        assertThat(manifest.isArray() && manifest.size() == 1).as("manifest.json holds one image: %s", manifest).isTrue();
        String configName = manifest.get(0).path("Config").asText();
        assertThat(outer).as("the config %s named by manifest.json", configName).containsKey(configName);
        config = JSON.readTree(outer.get(configName));
        for (JsonNode layer : manifest.get(0).path("Layers")) {
            assertThat(outer).as("layer %s named by manifest.json", layer.asText()).containsKey(layer.asText());
            try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(outer.get(layer.asText())))) {
                for (TarEntry e : readTar(in)) {
                    FILES.put(e.path().replaceFirst("^\\./", "").replaceFirst("/$", ""), e); // later layers win
                }
            }
        }
        assertThat(manifest.get(0).path("Layers").size()).as("layers").isEqualTo(config.path("rootfs").path("diff_ids").size());
    }

    @Test
    void theImageIsNamedLikeTheKubernetesManifestsSayAndBuiltForThisHost() throws IOException {
        String expected = System.getProperty("jib.to.image", configured.name());
        assertThat(manifest.get(0).path("RepoTags").toString()).as("RepoTags").contains("\"" + expected + "\"");
        Properties built = builtVersion();
        String immutable = expected.substring(0, expected.lastIndexOf(':') + 1) + built.getProperty("version") + "-" + built.getProperty("commit");
        assertThat(manifest.get(0).path("RepoTags").toString()).as("RepoTags: the version and the commit").contains("\"" + immutable + "\"");
        assertThat(config.path("config").path("Labels").path("org.opencontainers.image.revision").asText())
                .as("label org.opencontainers.image.revision: the commit built").startsWith(built.getProperty("commit"));
        assertThat(config.path("os").asText()).isEqualTo("linux");
        assertThat(config.path("architecture").asText()).as("architecture: the runtime inside is this host's")
                .isEqualTo(JibImage.hostArchitecture());
    }

    @Test
    void theUserIsNotRootAndExistsInTheImage() {
        String user = config.path("config").path("User").asText("");
        assertThat(user).as("config User (empty would be root)").matches("\\d+:\\d+").isEqualTo(configured.user());
        int uid = Integer.parseInt(user.split(":")[0]);
        assertThat(uid).as("uid").isNotZero();
        String passwd = new String(file("etc/passwd").content(), StandardCharsets.UTF_8);
        assertThat(passwd.lines().filter(l -> l.split(":").length > 2 && l.split(":")[2].equals(String.valueOf(uid))))
                .as("/etc/passwd entry of uid %s", uid).hasSize(1);
        String workingDir = config.path("config").path("WorkingDir").asText("");
        assertThat(workingDir).as("WorkingDir").isNotEmpty();
        for (String dir : List.of(workingDir, "/tmp")) {
            TarEntry entry = file(dir.substring(1));
            assertThat(entry.directory()).as("%s is a directory", dir).isTrue();
            assertThat(entry.uid() == uid || (entry.mode() & 0002) != 0).as("%s is writable by uid %s (mode %s)", dir, uid,
                    Integer.toOctalString(entry.mode())).isTrue();
        }
    }

    @Test
    void theEntrypointRunsTheMigratorWithTheJavaRuntimeInsideTheImage() {
        List<String> entrypoint = new ArrayList<>();
        config.path("config").path("Entrypoint").forEach(a -> entrypoint.add(a.asText()));
        assertThat(entrypoint).as("Entrypoint (cli/pom.xml)").isEqualTo(configured.entrypoint());
        assertThat(config.path("config").path("Cmd").isMissingNode() || config.path("config").path("Cmd").isEmpty())
                .as("no Cmd: the migrator's arguments are the container's").isTrue();
        TarEntry java = file(entrypoint.get(0).substring(1));
        assertThat(java.mode() & 0111).as("%s is executable", entrypoint.get(0)).isEqualTo(0111);
        assertThat(entrypoint).contains("-XX:+ExitOnOutOfMemoryError");
        assertThat(entrypoint.get(entrypoint.size() - 1)).as("main class").isEqualTo(Main.class.getName());
        assertThat(FILES).as("the main class in the image").containsKey("app/classes/" + Main.class.getName().replace('.', '/') + ".class");
        assertThat(FILES).as("the probe of docker-compose.yml's healthcheck, which runs it from /app/classes")
                .containsKey("app/classes/" + HttpProbe.class.getName().replace('.', '/') + ".class");
        int cp = entrypoint.indexOf("-cp");
        assertThat(cp).as("-cp in the entrypoint").isPositive();
        String classpath = entrypoint.get(cp + 1);
        if (classpath.startsWith("@")) {
            classpath = new String(file(classpath.substring(2)).content(), StandardCharsets.UTF_8).trim();
        }
        List<String> missing = new ArrayList<>();
        for (String element : classpath.split(":")) {
            String path = element.substring(1).replaceFirst("/\\*$", "");
            if (!FILES.containsKey(path)) {
                missing.add(element);
            }
        }
        assertThat(missing).as("classpath entries not in the image").isEmpty();
        assertThat(classpath).contains("/app/libs/picocli-", "/app/libs/debezium-connector-postgres-", "/app/libs/kafka-streams-");
        List<String> env = new ArrayList<>();
        config.path("config").path("Env").forEach(e -> env.add(e.asText()));
        assertThat(env).as("Env: the heap, as a share of the container's memory limit").anyMatch(e ->
                e.startsWith("JDK_JAVA_OPTIONS=") && e.contains("-XX:MaxRAMPercentage="));
        assertThat(env).as("Env: two malloc arenas, which README's memory figure assumes").contains("MALLOC_ARENA_MAX=2");
    }

    @Test
    void theHttpPortIsExposed() {
        Set<String> exposed = new TreeSet<>();
        config.path("config").path("ExposedPorts").fieldNames().forEachRemaining(exposed::add);
        assertThat(exposed).containsExactly(HttpEndpoints.DEFAULT_PORT + "/tcp");
    }

    @Test
    void theJavaRuntimeHasTheModulesTheMigratorNeeds() {
        String release = new String(file("opt/java/release").content(), StandardCharsets.UTF_8);
        assertThat(release).as("opt/java/release").containsPattern("JAVA_VERSION=\"(1[7-9]|[2-9][0-9])");
        List<String> modules = release.lines().filter(l -> l.startsWith("MODULES=")).findFirst().map(l ->
                List.of(l.substring("MODULES=".length()).replace("\"", "").trim().split("\\s+"))).orElse(List.of());
        assertThat(modules).as("modules of the runtime (deploy/image/build-rootfs.sh)")
                .contains("java.base", "java.sql", "java.naming", "java.management", "java.security.sasl", "jdk.crypto.ec",
                        "jdk.unsupported", "jdk.httpserver", "java.desktop")
                .doesNotContain("jdk.compiler", "jdk.jshell");
        assertThat(FILES).containsKeys("opt/java/lib/modules", "opt/java/lib/security/cacerts");
        assertThat(FILES.keySet()).as("the JVM").anyMatch(p -> p.matches("opt/java/lib/server/libjvm\\.so"));
    }

    @Test
    void everySharedLibraryTheRuntimeAndTheBundledJniCodeNeedIsInTheImage() throws IOException {
        int machine = JibImage.hostArchitecture().equals("arm64") ? 183 : 62; // EM_AARCH64, EM_X86_64
        Set<String> runtimeLibraries = new TreeSet<>();
        Set<String> systemLibraries = new TreeSet<>();
        for (String path : FILES.keySet()) {
            String fileName = path.substring(path.lastIndexOf('/') + 1);
            if (path.startsWith("opt/java/")) {
                runtimeLibraries.add(fileName);
            } else if (path.matches("(usr/)?lib(64)?(/[^/]+-linux-gnu)?/[^/]+")) {
                systemLibraries.add(fileName);
            }
        }
        List<String> failures = new ArrayList<>();
        int checked = 0;
        for (TarEntry entry : FILES.values()) {
            Elf elf = Elf.parse(entry.content());
            if (elf == null || entry.directory()) {
                continue;
            }
            checked++;
            if (elf.machine() != machine) {
                failures.add(entry.path() + ": built for ELF machine " + elf.machine() + ", not " + machine);
            }
            if (elf.interpreter() != null && !FILES.containsKey(elf.interpreter().substring(1))) {
                failures.add(entry.path() + ": its loader " + elf.interpreter() + " is not in the image");
            }
            for (String needed : elf.needed()) {
                if (!systemLibraries.contains(needed) && !runtimeLibraries.contains(needed)) {
                    failures.add(entry.path() + ": needs " + needed + ", which is not in the image");
                }
            }
        }
        assertThat(checked).as("ELF files in the image").isGreaterThan(10);
        // The JNI libraries the dependencies unpack at run time (RocksDB for Kafka Streams, zstd, snappy, lz4).
        Set<String> jni = new TreeSet<>();
        for (TarEntry entry : FILES.values()) {
            if (!entry.path().matches("app/libs/.*\\.jar")) {
                continue;
            }
            try (ZipInputStream zip = new ZipInputStream(new ByteArrayInputStream(entry.content()))) {
                for (ZipEntry z; (z = zip.getNextEntry()) != null; ) {
                    String name = z.getName().toLowerCase(Locale.ROOT);
                    if (!name.endsWith(".so") || name.contains("musl") || !name.contains("linux") || name.contains("android")) {
                        continue;
                    }
                    Elf elf = Elf.parse(zip.readAllBytes());
                    if (elf == null || elf.machine() != machine) {
                        continue;
                    }
                    jni.add(z.getName());
                    for (String needed : elf.needed()) {
                        if (!systemLibraries.contains(needed)) {
                            failures.add(entry.path() + "!/" + z.getName() + ": needs " + needed + ", which is not in the image");
                        }
                    }
                }
            }
        }
        assertThat(jni).as("JNI libraries for this architecture in the dependencies").anyMatch(n -> n.contains("rocksdb"));
        assertThat(failures).as("shared libraries missing from the image").isEmpty();
    }

    @Test
    void theEntrypointStartsInsideTheUnpackedImageAsItsUser(@TempDir Path root) throws Exception {
        assumeTrue(Files.isExecutable(Path.of("/usr/bin/unshare")), "no /usr/bin/unshare (util-linux): not run");
        assumeTrue("root".equals(System.getProperty("user.name")), "not root: cannot chroot into the image, not run");
        for (TarEntry entry : FILES.values()) {
            Path target = root.resolve(entry.path());
            if (entry.directory()) {
                Files.createDirectories(target);
            } else if (entry.type() == '0' || entry.type() == '\0') {
                Files.createDirectories(target.getParent());
                Files.write(target, entry.content());
            }
        }
        for (TarEntry entry : FILES.values()) { // after the files, so that no directory is made read-only too early
            Files.setPosixFilePermissions(root.resolve(entry.path()), permissions(entry.mode()));
        }
        Files.createDirectories(root.resolve("proc"));
        Files.setPosixFilePermissions(root, permissions(0755)); // the image's "/": JUnit makes it 700
        String[] user = config.path("config").path("User").asText().split(":");
        List<String> command = new ArrayList<>(List.of("/usr/bin/unshare", "--mount", "--pid", "--fork", "--mount-proc=/proc",
                "--root=" + root, "--wd=" + config.path("config").path("WorkingDir").asText(),
                "--setgid=" + user[1], "--setuid=" + user[0]));
        config.path("config").path("Entrypoint").forEach(a -> command.add(a.asText()));
        command.add("--version");
        ProcessBuilder builder = new ProcessBuilder(command).redirectErrorStream(true);
        builder.environment().clear();
        config.path("config").path("Env").forEach(e -> {
            String[] kv = e.asText().split("=", 2);
            builder.environment().put(kv[0], kv[1]);
        });
        Process process = builder.start();
        String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
        assertThat(process.waitFor(120, TimeUnit.SECONDS)).as("finished").isTrue();
        assertThat(process.exitValue()).as("exit code of %s; output:%n%s", command, output).isZero();
        assertThat(output).contains("cdc-migrator " + configured.name().substring(configured.name().lastIndexOf(':') + 1));
        try (Stream<Path> walk = Files.walk(root)) { // the temp dir is removed by JUnit, which needs write access
            walk.sorted(Comparator.reverseOrder()).filter(Files::isDirectory).forEach(d -> d.toFile().setWritable(true));
        }
    }

    /** migrator-version.properties as the build filtered it: the version and the commit of this image. */
    private static Properties builtVersion() throws IOException {
        Properties properties = new Properties();
        try (InputStream in = Main.class.getResourceAsStream("/migrator-version.properties")) {
            properties.load(in);
        }
        return properties;
    }

    // --- tar ---

    private static TarEntry file(String path) {
        TarEntry entry = FILES.get(path);
        assertThat(entry).as("/%s in the image", path).isNotNull();
        return entry;
    }

    /** The entries of a tar stream: ustar with pax ('x') and GNU long-name ('L') headers, as Jib writes them. */
    private static List<TarEntry> readTar(InputStream in) throws IOException {
        List<TarEntry> entries = new ArrayList<>();
        byte[] header = new byte[512];
        String longName = null;
        while (in.readNBytes(header, 0, 512) == 512) {
            if (allZero(header)) {
                break;
            }
            String name = string(header, 0, 100);
            int mode = (int) octal(header, 100, 8);
            int uid = (int) octal(header, 108, 8);
            long size = octal(header, 124, 12);
            char type = (char) header[156];
            String prefix = string(header, 345, 155);
            byte[] content = in.readNBytes((int) size);
            in.readNBytes((int) ((512 - size % 512) % 512));
            if (type == 'x') {
                for (String record : new String(content, StandardCharsets.UTF_8).split("\n")) {
                    int space = record.indexOf(' ');
                    if (space > 0 && record.substring(space + 1).startsWith("path=")) {
                        longName = record.substring(space + 1 + "path=".length());
                    }
                }
                continue;
            }
            if (type == 'g') {
                continue;
            }
            if (type == 'L') {
                longName = new String(content, StandardCharsets.UTF_8).replace("\0", "");
                continue;
            }
            String path = longName != null ? longName : prefix.isEmpty() ? name : prefix + "/" + name;
            longName = null;
            entries.add(new TarEntry(path, type, mode, uid, content));
        }
        return entries;
    }

    private static boolean allZero(byte[] block) {
        for (byte b : block) {
            if (b != 0) {
                return false;
            }
        }
        return true;
    }

    private static String string(byte[] header, int offset, int length) {
        int end = offset;
        while (end < offset + length && header[end] != 0) {
            end++;
        }
        return new String(header, offset, end - offset, StandardCharsets.UTF_8);
    }

    private static long octal(byte[] header, int offset, int length) {
        if ((header[offset] & 0x80) != 0) { // base-256
            long value = 0;
            for (int i = offset + 1; i < offset + length; i++) {
                value = (value << 8) | (header[i] & 0xff);
            }
            return value;
        }
        String text = string(header, offset, length).trim();
        return text.isEmpty() ? 0 : Long.parseLong(text, 8);
    }

    private static Set<PosixFilePermission> permissions(int mode) {
        Set<PosixFilePermission> permissions = EnumSet.noneOf(PosixFilePermission.class);
        PosixFilePermission[] bits = {PosixFilePermission.OTHERS_EXECUTE, PosixFilePermission.OTHERS_WRITE,
            PosixFilePermission.OTHERS_READ, PosixFilePermission.GROUP_EXECUTE, PosixFilePermission.GROUP_WRITE,
            PosixFilePermission.GROUP_READ, PosixFilePermission.OWNER_EXECUTE, PosixFilePermission.OWNER_WRITE,
            PosixFilePermission.OWNER_READ};
        for (int i = 0; i < bits.length; i++) {
            if ((mode & (1 << i)) != 0) {
                permissions.add(bits[i]);
            }
        }
        return permissions;
    }

    // --- ELF ---

    /** What a dynamic loader needs of an ELF file: its machine, its interpreter (executables) and DT_NEEDED. */
    record Elf(int machine, String interpreter, List<String> needed) {

        /** Null when the bytes are no 64-bit little-endian ELF file. */
        static Elf parse(byte[] bytes) {
            if (bytes.length < 64 || bytes[0] != 0x7f || bytes[1] != 'E' || bytes[2] != 'L' || bytes[3] != 'F'
                    || bytes[4] != 2 || bytes[5] != 1) {
                return null;
            }
            ByteBuffer b = ByteBuffer.wrap(bytes).order(ByteOrder.LITTLE_ENDIAN);
            int machine = b.getShort(0x12) & 0xffff;
            long phoff = b.getLong(0x20);
            int phentsize = b.getShort(0x36) & 0xffff;
            int phnum = b.getShort(0x38) & 0xffff;
            String interpreter = null;
            long dynamicOffset = -1;
            long dynamicSize = 0;
            List<long[]> loads = new ArrayList<>(); // vaddr, offset, filesz
            for (int i = 0; i < phnum; i++) {
                int at = (int) (phoff + (long) i * phentsize);
                int type = b.getInt(at);
                long offset = b.getLong(at + 8);
                long vaddr = b.getLong(at + 16);
                long filesz = b.getLong(at + 32);
                if (type == 3) { // PT_INTERP
                    interpreter = new String(bytes, (int) offset, (int) filesz - 1, StandardCharsets.UTF_8);
                } else if (type == 2) { // PT_DYNAMIC
                    dynamicOffset = offset;
                    dynamicSize = filesz;
                } else if (type == 1) { // PT_LOAD
                    loads.add(new long[] {vaddr, offset, filesz});
                }
            }
            List<Long> neededOffsets = new ArrayList<>();
            long strtab = -1;
            for (long at = dynamicOffset; dynamicOffset >= 0 && at + 16 <= dynamicOffset + dynamicSize; at += 16) {
                long tag = b.getLong((int) at);
                long value = b.getLong((int) at + 8);
                if (tag == 0) {
                    break;
                } else if (tag == 1) { // DT_NEEDED
                    neededOffsets.add(value);
                } else if (tag == 5) { // DT_STRTAB (an address)
                    strtab = value;
                }
            }
            List<String> needed = new ArrayList<>();
            if (strtab >= 0) {
                long strtabOffset = -1;
                for (long[] load : loads) {
                    if (strtab >= load[0] && strtab < load[0] + load[2]) {
                        strtabOffset = strtab - load[0] + load[1];
                    }
                }
                for (long offset : neededOffsets) {
                    int start = (int) (strtabOffset + offset);
                    int end = start;
                    while (bytes[end] != 0) {
                        end++;
                    }
                    needed.add(new String(bytes, start, end - start, StandardCharsets.UTF_8));
                }
            }
            return new Elf(machine, interpreter, needed);
        }
    }
}
