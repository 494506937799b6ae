//! The QEMU driver: each workload is a `qemu-system-x86_64` virtual machine
//! with the workload's cores and memory, using KVM when `/dev/kvm` can be
//! opened and software emulation (TCG) otherwise. The QEMU process (its
//! vCPU and I/O threads) is pinned to as many CPUs as the VM has cores,
//! like a process workload ([`crate::host::Cpus`]).
//!
//! The guest is the project's own boot image, [`BOOT_IMAGE`]: one 512-byte
//! BIOS boot sector (hand-assembled below) that writes [`READY_MARKER`] to
//! the first serial port and halts. It needs no kernel and boots in well
//! under a second even emulated, so the driver and its tests exercise a
//! real VM boot (firmware, disk, serial console) without shipping a Linux
//! image. The VM's serial console goes to `<label>.console` in the
//! driver's directory; the instance counts as running once the marker
//! appears there. Every image name boots this guest today (real images are
//! future work, see `docs/compute.md`).

use std::fs;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Stdio;

use ledger::payload::compute::WorkloadSpec;

use crate::driver::{Driver, DriverError, Instance, InstanceStatus, Supervised, WorkloadKey};
use crate::host::{self, Cpus, ProcessIdentity};

/// What the guest prints on its serial console once booted.
pub const READY_MARKER: &str = "blockstake-guest: ready";

/// The guest's code (16-bit real mode, loaded by the BIOS at 0x7c00):
///
/// ```text
/// 7c00 fa          cli
/// 7c01 fc          cld
/// 7c02 31 c0       xor  ax, ax
/// 7c04 8e d8       mov  ds, ax
/// 7c06 be 17 7c    mov  si, 0x7c17      ; the message
/// 7c09 ba f8 03    mov  dx, 0x3f8       ; COM1 data port
/// 7c0c ac          lodsb                ; next: al = [si++]
/// 7c0d 84 c0       test al, al
/// 7c0f 74 03       jz   7c14
/// 7c11 ee          out  dx, al
/// 7c12 eb f8       jmp  7c0c
/// 7c14 f4          hlt                  ; done
/// 7c15 eb fd       jmp  7c14
/// 7c17             "blockstake-guest: ready\r\n", 0
/// ```
const BOOT_CODE: [u8; 23] = [
    0xfa, 0xfc, 0x31, 0xc0, 0x8e, 0xd8, 0xbe, 0x17, 0x7c, 0xba, 0xf8, 0x03, 0xac, 0x84, 0xc0, 0x74,
    0x03, 0xee, 0xeb, 0xf8, 0xf4, 0xeb, 0xfd,
];

/// The boot disk: [`BOOT_CODE`], the message, zero padding and the boot
/// signature `55 aa` at bytes 510–511.
pub const BOOT_IMAGE: [u8; 512] = boot_image();

const fn boot_image() -> [u8; 512] {
    let mut image = [0u8; 512];
    let mut index = 0;
    while index < BOOT_CODE.len() {
        image[index] = BOOT_CODE[index];
        index += 1;
    }
    let message = b"blockstake-guest: ready\r\n";
    let mut offset = 0;
    while offset < message.len() {
        image[BOOT_CODE.len() + offset] = message[offset];
        offset += 1;
    }
    image[510] = 0x55;
    image[511] = 0xaa;
    image
}

/// Which accelerator QEMU uses.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Accelerator {
    Kvm,
    /// Software emulation (TCG).
    Tcg,
}

impl Accelerator {
    /// KVM when `/dev/kvm` can be opened for reading and writing.
    pub fn detect() -> Accelerator {
        let usable = fs::OpenOptions::new()
            .read(true)
            .write(true)
            .open("/dev/kvm")
            .is_ok();
        if usable {
            Accelerator::Kvm
        } else {
            Accelerator::Tcg
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Accelerator::Kvm => "kvm",
            Accelerator::Tcg => "tcg",
        }
    }
}

/// Runs workloads as QEMU virtual machines.
#[derive(Debug, Clone)]
pub struct QemuDriver {
    binary: PathBuf,
    directory: PathBuf,
    accelerator: Accelerator,
    cpus: Cpus,
}

impl QemuDriver {
    pub fn new(binary: PathBuf, directory: PathBuf, accelerator: Accelerator) -> QemuDriver {
        QemuDriver {
            binary,
            directory,
            accelerator,
            cpus: Cpus::of_this_process(),
        }
    }

    /// `qemu-system-x86_64` from `PATH`, if there is one.
    pub fn find_binary() -> Option<PathBuf> {
        let path = std::env::var_os("PATH")?;
        std::env::split_paths(&path)
            .map(|dir| dir.join("qemu-system-x86_64"))
            .find(|candidate| candidate.is_file())
    }

    pub fn accelerator(&self) -> Accelerator {
        self.accelerator
    }

    /// The serial console file of a workload.
    pub fn console_path(&self, key: &WorkloadKey) -> PathBuf {
        self.directory.join(format!("{}.console", key.label()))
    }

    fn boot_image_path(&self) -> Result<PathBuf, DriverError> {
        let path = self.directory.join("boot.img");
        let current = fs::read(&path).ok();
        if current.as_deref() != Some(&BOOT_IMAGE[..]) {
            fs::create_dir_all(&self.directory).map_err(|source| DriverError::Prepare {
                path: self.directory.clone(),
                source,
            })?;
            fs::write(&path, BOOT_IMAGE).map_err(|source| DriverError::Prepare {
                path: path.clone(),
                source,
            })?;
        }
        Ok(path)
    }
}

struct QemuInstance {
    process: Supervised,
    console: PathBuf,
}

fn console_shows_ready(console: &Path) -> bool {
    fs::read(console)
        .map(|bytes| {
            bytes
                .windows(READY_MARKER.len())
                .any(|window| window == READY_MARKER.as_bytes())
        })
        .unwrap_or(false)
}

impl Instance for QemuInstance {
    fn poll(&mut self) -> Result<InstanceStatus, DriverError> {
        if let Some(how) = self.process.exited()? {
            return Ok(InstanceStatus::Exited(format!("qemu {how}")));
        }
        Ok(if console_shows_ready(&self.console) {
            InstanceStatus::Running
        } else {
            InstanceStatus::Starting
        })
    }

    fn stop(&mut self) -> Result<(), DriverError> {
        self.process.kill()
    }

    fn identity(&self) -> Option<ProcessIdentity> {
        self.process.identity()
    }

    fn detach(&mut self) {
        self.process.detach();
    }
}

impl Driver for QemuDriver {
    fn kind(&self) -> &'static str {
        "qemu"
    }

    fn start(
        &self,
        key: &WorkloadKey,
        spec: &WorkloadSpec,
    ) -> Result<Box<dyn Instance>, DriverError> {
        let boot = self.boot_image_path()?;
        let console = self.console_path(key);
        // A fresh console per start, so "ready" means this boot.
        fs::write(&console, b"").map_err(|source| DriverError::Prepare {
            path: console.clone(),
            source,
        })?;
        let log_path = self.directory.join(format!("{}.qemu.log", key.label()));
        let log = fs::File::create(&log_path).map_err(|source| DriverError::Prepare {
            path: log_path.clone(),
            source,
        })?;
        let log_err = log.try_clone().map_err(|source| DriverError::Prepare {
            path: log_path.clone(),
            source,
        })?;
        let pin = self.cpus.pin(key, spec.resources.cores);
        let mut command = pin.command(&self.binary);
        command
            .arg("-nodefaults")
            .args(["-display", "none"])
            .arg("-no-reboot")
            .args([
                "-machine",
                &format!("pc,accel={}", self.accelerator.as_str()),
            ])
            .args(["-m", &spec.resources.memory_mib.to_string()])
            .args(["-smp", &spec.resources.cores.to_string()])
            .args([
                "-drive",
                &format!("file={},format=raw,if=ide,snapshot=on", boot.display()),
            ])
            .args(["-serial", &format!("file:{}", console.display())])
            .args(["-name", &key.label()])
            .process_group(0)
            .stdin(Stdio::null())
            .stdout(log)
            .stderr(log_err);
        let child = command.spawn().map_err(|source| DriverError::Spawn {
            workload: key.to_string(),
            program: self.binary.display().to_string(),
            source,
        })?;
        tracing::info!(
            workload = %key,
            pid = child.id(),
            accelerator = self.accelerator.as_str(),
            cpus = %host::cpu_list(pin.cpus()),
            "virtual machine started"
        );
        Ok(Box::new(QemuInstance {
            process: Supervised::child(key.to_string(), child, Some(pin)),
            console,
        }))
    }

    /// The VM keeps running across an agent restart like a process
    /// workload; its console file (kept by QEMU, which holds it open)
    /// still shows whether it booted.
    fn adopt(
        &self,
        key: &WorkloadKey,
        _spec: &WorkloadSpec,
        process: ProcessIdentity,
    ) -> Result<Box<dyn Instance>, DriverError> {
        Ok(Box::new(QemuInstance {
            process: Supervised::adopt_pinned(key, process, &self.cpus, "virtual machine"),
            console: self.console_path(key),
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boot_sector_is_well_formed() {
        assert_eq!(&BOOT_IMAGE[510..], &[0x55, 0xaa]);
        // `mov si, imm16` points at the message.
        let message_at = usize::from(u16::from_le_bytes([BOOT_CODE[7], BOOT_CODE[8]]) - 0x7c00);
        assert_eq!(message_at, BOOT_CODE.len());
        let message = &BOOT_IMAGE[message_at..];
        assert!(message.starts_with(READY_MARKER.as_bytes()));
        let end = message.iter().position(|byte| *byte == 0).unwrap();
        assert_eq!(&message[..end], b"blockstake-guest: ready\r\n");
    }
}
