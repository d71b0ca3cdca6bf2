"""Unpacking zip archives safely: :func:`safe_extract` refuses absolute paths, ``..`` traversal, symlinks and
zip bombs, all or nothing."""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import zipfile
from pathlib import Path, PurePosixPath

from clsm_geo.errors import DataSourceError
from clsm_geo.i18n import t

#: Bytes per read while extracting.
CHUNK_SIZE = 256 * 1024
#: safe_extract: cap on the total uncompressed size of the extracted members (bytes).
MAX_TOTAL_UNCOMPRESSED = 2 * 1024**3
#: safe_extract: cap on a member's compression ratio, applied to members larger than MIN_RATIO_CHECK_SIZE.
MAX_RATIO = 200
MIN_RATIO_CHECK_SIZE = 10 * 1024**2


def _short(exc: BaseException) -> str:
    text = str(exc) or type(exc).__name__
    return text if len(text) <= 200 else text[:197] + "..."



def safe_extract(zip_path: Path, dest_dir: Path, members: list[str] | None = None) -> list[Path]:
    """Extract ``members`` (default: all) of the zip ``zip_path`` into ``dest_dir``; return the files written.

    Refuses (:class:`DataSourceError` naming the member) absolute paths, ``..`` components, symlinks
    and other special files, and zip bombs: more than :data:`MAX_TOTAL_UNCOMPRESSED` bytes in total,
    or a member larger than :data:`MIN_RATIO_CHECK_SIZE` compressed more than :data:`MAX_RATIO` times.
    All or nothing: members are extracted to a temporary folder next to ``dest_dir`` and moved in
    only when all are complete, so a failure leaves ``dest_dir`` as it was. Existing files of the
    same name in ``dest_dir`` are replaced.
    """
    zip_path, dest_dir = Path(zip_path), Path(dest_dir)
    try:
        archive = zipfile.ZipFile(zip_path)
    except (zipfile.BadZipFile, OSError) as exc:
        raise DataSourceError(t("data.zip.unreadable", path=zip_path, error=_short(exc)),
                              hint=t("data.zip.unreadable_hint")) from exc
    with archive:
        infos = _checked_members(archive, zip_path, members)
        created_dest = not dest_dir.exists()
        dest_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{dest_dir.name}.extract-", dir=dest_dir.parent))
        try:
            relative: list[PurePosixPath] = []
            for info, rel in infos:
                target = staging.joinpath(*rel.parts)
                if info.is_dir():
                    target.mkdir(parents=True, exist_ok=True)
                    continue
                target.parent.mkdir(parents=True, exist_ok=True)
                _extract_member(archive, info, target, zip_path)
                relative.append(rel)
            written = []
            for rel in relative:
                final = dest_dir.joinpath(*rel.parts)
                final.parent.mkdir(parents=True, exist_ok=True)
                os.replace(staging.joinpath(*rel.parts), final)
                written.append(final)
            for info, rel in infos:  # empty directories listed in the archive
                if info.is_dir():
                    dest_dir.joinpath(*rel.parts).mkdir(parents=True, exist_ok=True)
            return written
        except BaseException:
            if created_dest:
                shutil.rmtree(dest_dir, ignore_errors=True)
            raise
        finally:
            shutil.rmtree(staging, ignore_errors=True)


def _checked_members(archive: zipfile.ZipFile, zip_path: Path,
                     members: list[str] | None) -> list[tuple[zipfile.ZipInfo, PurePosixPath]]:
    """The members to extract with their safe relative paths; raises on anything dangerous."""
    if members is None:
        infos = archive.infolist()
    else:
        by_name = {i.filename: i for i in archive.infolist()}
        missing = [m for m in members if m not in by_name]
        if missing:
            raise DataSourceError(t("data.zip.no_member", path=zip_path, member=repr(missing[0])),
                                  hint=t("data.zip.no_member_hint"))
        infos = [by_name[m] for m in members]

    def refuse(info: zipfile.ZipInfo, why: str) -> DataSourceError:
        return DataSourceError(t("data.zip.refused", path=zip_path, member=repr(info.filename), why=why),
                               hint=t("data.zip.malicious_hint"))

    checked = []
    total = 0
    for info in infos:
        name = info.filename.replace("\\", "/")
        if not name or name.startswith("/") or (len(name) > 1 and name[1] == ":") or "\x00" in name:
            raise refuse(info, t("data.zip.why_absolute"))
        rel = PurePosixPath(name)
        if any(part == ".." for part in rel.parts):
            raise refuse(info, t("data.zip.why_escapes"))
        rel = PurePosixPath(*[p for p in rel.parts if p not in ("", ".")]) if rel.parts else rel
        if not rel.parts:
            if info.is_dir():
                continue
            raise refuse(info, t("data.zip.why_empty"))
        mode = info.external_attr >> 16  # Unix mode, when the archiver recorded one
        if stat.S_IFMT(mode) not in (0, stat.S_IFREG, stat.S_IFDIR):
            kind = t("data.zip.why_symlink" if stat.S_ISLNK(mode) else "data.zip.why_not_file")
            raise refuse(info, kind)
        total += info.file_size
        if total > MAX_TOTAL_UNCOMPRESSED:
            raise refuse(info, t("data.zip.why_total", limit=MAX_TOTAL_UNCOMPRESSED))
        if info.file_size > MIN_RATIO_CHECK_SIZE and info.file_size > MAX_RATIO * max(info.compress_size, 1):
            raise refuse(info, t("data.zip.why_ratio", ratio=MAX_RATIO, size=info.file_size,
                                 compressed=info.compress_size))
        checked.append((info, rel))
    return checked


def _extract_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, target: Path, zip_path: Path) -> None:
    written = 0
    try:
        with archive.open(info) as src, open(target, "wb") as dst:
            while chunk := src.read(CHUNK_SIZE):
                written += len(chunk)
                if written > info.file_size:
                    raise DataSourceError(
                        t("data.zip.refused", path=zip_path, member=repr(info.filename),
                          why=t("data.zip.larger", size=info.file_size)),
                        hint=t("data.zip.malicious_hint"))
                dst.write(chunk)
    except (zipfile.BadZipFile, zipfile.LargeZipFile, NotImplementedError, RuntimeError, EOFError,
            ValueError) as exc:
        raise DataSourceError(t("data.zip.extract", member=repr(info.filename), path=zip_path, error=_short(exc)),
                              hint=t("data.zip.extract_hint")) from exc
