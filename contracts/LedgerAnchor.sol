// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";
import {SafeCast} from "@openzeppelin/contracts/utils/math/SafeCast.sol";
import {ILedgerAnchor} from "./interfaces/ILedgerAnchor.sol";

/**
 * @title LedgerAnchor
 * @notice Anchors checkpoints of the shanlian journal, an RFC 6962 Merkle log.
 *
 * Every new checkpoint must extend the previous one, as a consistency proof shows
 * (RFC 9162 §2.1.4.2), so once a checkpoint is anchored nobody — the operator and the
 * anchorer included — can anchor a log that rewrites the entries it covers. Checkpoints
 * are never replaced or removed. Anyone can check that an entry is in an anchored
 * checkpoint with one `eth_call` of {verifyInclusion}.
 *
 * Storage is laid out for cheap anchoring (docs/adr/0005-checkpoint-storage-layout.md):
 * a checkpoint is kept in one slot under its root hash (its index, tree size and anchoring
 * time fit beside each other), and one more slot names the latest root. So every anchor,
 * whatever its index, reads two slots, opens exactly one and rewrites one. Going from an
 * index to its checkpoint takes the {CheckpointAnchored} log of that index, then
 * {checkpointOf}.
 */
contract LedgerAnchor is ILedgerAnchor, AccessControl {
    /// @notice The role allowed to {anchor}: keccak256("ANCHORER_ROLE").
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// Bit positions in a record: a checkpoint's tree size (64 bits, never zero for an
    /// anchored checkpoint), anchoring time (48 bits, as OpenZeppelin's `Time`) and index
    /// (32 bits), packed by hand into one word, which costs less gas than a struct.
    uint256 private constant _ANCHORED_AT_SHIFT = 64;
    uint256 private constant _INDEX_SHIFT = 112;

    /// The latest checkpoint's root hash; zero before the first anchor.
    bytes32 private _latestRoot;
    /// Every checkpoint's record, under its root hash; zero for a root never anchored.
    mapping(bytes32 rootHash => uint256 record) private _records;

    /**
     * @param admin receives `DEFAULT_ADMIN_ROLE`: it grants and revokes `ANCHORER_ROLE`.
     * @param anchorer receives `ANCHORER_ROLE`.
     */
    constructor(address admin, address anchorer) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(ANCHORER_ROLE, anchorer);
    }

    /// @inheritdoc ILedgerAnchor
    function anchor(uint64 treeSize, bytes32 rootHash, bytes32[] calldata consistencyProof)
        external
        onlyRole(ANCHORER_ROLE)
    {
        bytes32 latestRoot = _latestRoot;
        uint256 index;
        if (latestRoot == 0) {
            if (treeSize == 0) {
                revert LedgerAnchorNotGrowing(0, 0);
            }
            if (consistencyProof.length != 0) {
                revert LedgerAnchorProofLength(0, treeSize, 0, consistencyProof.length);
            }
            if (rootHash == 0) {
                revert LedgerAnchorZeroRoot();
            }
        } else {
            uint256 latest = _records[latestRoot];
            uint64 latestSize = uint64(latest);
            if (treeSize <= latestSize) {
                revert LedgerAnchorNotGrowing(latestSize, treeSize);
            }
            _checkConsistency(latestSize, treeSize, latestRoot, rootHash, consistencyProof);
            index = (latest >> _INDEX_SHIFT) + 1;
        }
        _records[rootHash] = uint256(treeSize)
            | (uint256(SafeCast.toUint48(block.timestamp)) << _ANCHORED_AT_SHIFT)
            | (uint256(SafeCast.toUint32(index)) << _INDEX_SHIFT);
        _latestRoot = rootHash;
        emit CheckpointAnchored(index, treeSize, rootHash);
    }

    /// @inheritdoc ILedgerAnchor
    function checkpointCount() external view returns (uint256) {
        bytes32 latestRoot = _latestRoot;
        return latestRoot == 0 ? 0 : (_records[latestRoot] >> _INDEX_SHIFT) + 1;
    }

    /// @inheritdoc ILedgerAnchor
    function checkpointOf(bytes32 rootHash)
        external
        view
        returns (uint256 index, uint64 treeSize, uint64 anchoredAt)
    {
        uint256 record = _records[rootHash];
        if (record == 0) {
            revert LedgerAnchorUnknownRoot(rootHash);
        }
        return _unpack(record);
    }

    /// @inheritdoc ILedgerAnchor
    function latestCheckpoint()
        external
        view
        returns (uint256 index, uint64 treeSize, bytes32 rootHash, uint64 anchoredAt)
    {
        rootHash = _latestRoot;
        if (rootHash == 0) {
            revert LedgerAnchorNoCheckpoint();
        }
        (index, treeSize, anchoredAt) = _unpack(_records[rootHash]);
    }

    /// @inheritdoc ILedgerAnchor
    function verifyInclusion(uint64 treeSize, uint64 leafIndex, bytes32 leafHash, bytes32[] calldata proof)
        external
        view
        returns (bool)
    {
        if (leafIndex >= treeSize) {
            return false;
        }
        // RFC 9162 §2.1.3.2, with fn and sn the leaf's and the last leaf's index at each level.
        uint256 fn = leafIndex;
        uint256 sn = treeSize - 1;
        bytes32 r = leafHash;
        for (uint256 i = 0; i < proof.length; ++i) {
            if (sn == 0) {
                return false;
            }
            if (fn & 1 == 1 || fn == sn) {
                r = _hashNode(proof[i], r);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                r = _hashNode(r, proof[i]);
            }
            fn >>= 1;
            sn >>= 1;
        }
        return sn == 0 && uint64(_records[r]) == treeSize;
    }

    function _unpack(uint256 record) private pure returns (uint256 index, uint64 treeSize, uint64 anchoredAt) {
        return (record >> _INDEX_SHIFT, uint64(record), uint64(uint48(record >> _ANCHORED_AT_SHIFT)));
    }

    /**
     * @dev RFC 9162 §2.1.4.2: reverts unless `proof` shows that the tree of `second` leaves
     * with root `secondRoot` extends the tree of `first` leaves with root `firstRoot`.
     * Requires 0 < first < second.
     *
     * The loop over the proof is assembly, to keep every anchor under 80,000 gas at a
     * million entries (docs/adr/0005): its up to ~40 SHA-256 precompile calls are most of
     * an anchor's execution gas besides storage, and the overhead around each call is what
     * assembly saves.
     */
    function _checkConsistency(
        uint64 first,
        uint64 second,
        bytes32 firstRoot,
        bytes32 secondRoot,
        bytes32[] calldata proof
    ) private view {
        bool pow2 = first & (first - 1) == 0;
        if (!pow2 && proof.length == 0) {
            revert LedgerAnchorProofLength(first, second, _consistencyProofLength(first, second), 0);
        }
        bool tooShort;
        bool tooLong;
        bytes32 fr;
        bytes32 sr;
        assembly ("memory-safe") {
            let fn := sub(first, 1)
            let sn := sub(second, 1)
            for {} and(fn, 1) {} {
                fn := shr(1, fn)
                sn := shr(1, sn)
            }
            let next := proof.offset
            let end := add(next, shl(5, proof.length))
            // The path starts with the first root if the first tree is a complete subtree
            // (a power of two), else with the proof's first hash.
            fr := firstRoot
            if iszero(pow2) {
                fr := calldataload(next)
                next := add(next, 0x20)
            }
            // The hashes are computed in place, in three overlapping 65-byte inputs to the
            // SHA-256 precompile past the free memory pointer, so that no path hash goes
            // through the stack: f = 0x01 ‖ c ‖ fr, l = 0x01 ‖ c ‖ sr, r = 0x01 ‖ sr ‖ c,
            // where the last byte of l's c is r's prefix byte, restored after each use of l.
            let f := mload(0x40)
            let l := add(f, 0x60)
            let r := add(f, 0x80)
            mstore8(f, 0x01)
            mstore8(l, 0x01)
            mstore8(r, 0x01)
            mstore(add(f, 0x21), fr)
            mstore(add(r, 0x01), fr)
            // A call to the SHA-256 precompile only fails by running out of gas; it then
            // takes all the gas it was given, 63/64 of what was left, and the anchor runs out
            // right after. So its success flag need not be checked.
            for {} lt(next, end) { next := add(next, 0x20) } {
                if iszero(sn) {
                    tooLong := 1
                    break
                }
                switch or(and(fn, 1), eq(fn, sn))
                case 0 {
                    // sr := H(sr, c)
                    mstore(add(f, 0xa1), calldataload(next))
                    pop(staticcall(gas(), 0x02, r, 0x41, add(f, 0x81), 0x20))
                }
                default {
                    // fr := H(c, fr); sr := H(c, sr)
                    let c := calldataload(next)
                    mstore(add(f, 0x01), c)
                    pop(staticcall(gas(), 0x02, f, 0x41, add(f, 0x21), 0x20))
                    mstore(add(f, 0x61), c)
                    pop(staticcall(gas(), 0x02, l, 0x41, add(f, 0x81), 0x20))
                    mstore8(r, 0x01)
                    if fn {
                        for {} iszero(and(fn, 1)) {} {
                            fn := shr(1, fn)
                            sn := shr(1, sn)
                        }
                    }
                }
                fn := shr(1, fn)
                sn := shr(1, sn)
            }
            tooShort := gt(sn, 0)
            fr := mload(add(f, 0x21))
            sr := mload(add(f, 0x81))
        }
        if (tooShort || tooLong) {
            revert LedgerAnchorProofLength(first, second, _consistencyProofLength(first, second), proof.length);
        }
        if (fr != firstRoot || sr != secondRoot) {
            revert LedgerAnchorInconsistent(first, second);
        }
    }

    /**
     * @dev The number of hashes in a consistency proof from `first` to `second` leaves: the
     * steps of {_checkConsistency} on the sizes alone. Only computed to explain a revert.
     * Requires 0 < first < second.
     */
    function _consistencyProofLength(uint64 first, uint64 second) private pure returns (uint256 length) {
        uint256 fn = first - 1;
        uint256 sn = second - 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        // The path starts with the first root (pow2) or with the proof's first hash.
        length = first & (first - 1) == 0 ? 0 : 1;
        while (sn != 0) {
            if (fn & 1 == 0 && fn == sn) {
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            }
            fn >>= 1;
            sn >>= 1;
            ++length;
        }
    }

    /**
     * @dev RFC 6962 §2.1 interior node: `sha256(abi.encodePacked(bytes1(0x01), left, right))`,
     * computed by calling the SHA-256 precompile (address 0x02) on 65 bytes laid out past the
     * free memory pointer, so that the ~40 hashes of a proof allocate no memory.
     */
    function _hashNode(bytes32 left, bytes32 right) private view returns (bytes32 node) {
        assembly ("memory-safe") {
            let ptr := mload(0x40)
            mstore8(ptr, 0x01)
            mstore(add(ptr, 0x01), left)
            mstore(add(ptr, 0x21), right)
            if iszero(staticcall(gas(), 0x02, ptr, 0x41, 0x00, 0x20)) { revert(0, 0) }
            node := mload(0x00)
        }
    }
}
