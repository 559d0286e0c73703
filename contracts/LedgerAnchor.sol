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
 * each root hash takes one slot; tree sizes and anchoring times go two checkpoints to a
 * slot, and the newest pair lives in `_head` together with the count, so an anchor reads
 * one slot it also writes and opens a new slot for its root, plus every second time one
 * for the pair it archives.
 */
contract LedgerAnchor is ILedgerAnchor, AccessControl {
    /// @notice The role allowed to {anchor}: keccak256("ANCHORER_ROLE").
    bytes32 public constant ANCHORER_ROLE = keccak256("ANCHORER_ROLE");

    /// Tree sizes and anchoring times of checkpoints 2p ("even") and 2p + 1 ("odd").
    struct MetaPair {
        uint64 evenTreeSize;
        uint48 evenAnchoredAt;
        uint64 oddTreeSize;
        uint48 oddAnchoredAt;
    }

    /// The checkpoint count and the newest pair, read and written by every anchor: one slot
    /// (a nested struct would start a slot of its own).
    struct Head {
        uint32 count;
        uint64 evenTreeSize;
        uint48 evenAnchoredAt;
        uint64 oddTreeSize;
        uint48 oddAnchoredAt;
    }

    Head private _head;
    mapping(uint256 index => bytes32 rootHash) private _roots;
    mapping(uint256 pairIndex => MetaPair) private _archivedPairs;

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
        Head memory head = _head;
        uint256 index = head.count;
        // The latest checkpoint is the head pair's odd one when the count is even (or zero).
        uint64 current = index & 1 == 1 ? head.evenTreeSize : head.oddTreeSize;
        if (treeSize <= current) {
            revert LedgerAnchorNotGrowing(current, treeSize);
        }
        if (index == 0) {
            if (consistencyProof.length != 0) {
                revert LedgerAnchorProofLength(0, treeSize, 0, consistencyProof.length);
            }
        } else {
            _checkConsistency(current, treeSize, _roots[index - 1], rootHash, consistencyProof);
        }

        _roots[index] = rootHash;
        uint48 anchoredAt = SafeCast.toUint48(block.timestamp);
        uint32 count = SafeCast.toUint32(index + 1);
        if (index & 1 == 0) {
            if (index != 0) {
                _archivedPairs[(index >> 1) - 1] =
                    MetaPair(head.evenTreeSize, head.evenAnchoredAt, head.oddTreeSize, head.oddAnchoredAt);
            }
            _head = Head(count, treeSize, anchoredAt, 0, 0);
        } else {
            _head = Head(count, head.evenTreeSize, head.evenAnchoredAt, treeSize, anchoredAt);
        }
        emit CheckpointAnchored(index, treeSize, rootHash);
    }

    /// @inheritdoc ILedgerAnchor
    function checkpointCount() external view returns (uint256) {
        return _head.count;
    }

    /// @inheritdoc ILedgerAnchor
    function checkpointAt(uint256 index)
        external
        view
        returns (uint64 treeSize, bytes32 rootHash, uint64 anchoredAt)
    {
        return _checkpoint(index);
    }

    /// @inheritdoc ILedgerAnchor
    function latestCheckpoint()
        external
        view
        returns (uint256 index, uint64 treeSize, bytes32 rootHash, uint64 anchoredAt)
    {
        uint256 count = _head.count;
        if (count == 0) {
            revert LedgerAnchorNoCheckpoint();
        }
        index = count - 1;
        (treeSize, rootHash, anchoredAt) = _checkpoint(index);
    }

    /// @inheritdoc ILedgerAnchor
    function verifyInclusion(
        uint256 checkpointIndex,
        uint64 leafIndex,
        bytes32 leafHash,
        bytes32[] calldata proof
    ) external view returns (bool) {
        (uint64 treeSize, bytes32 rootHash,) = _checkpoint(checkpointIndex);
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
        return sn == 0 && r == rootHash;
    }

    /// Reverts with {LedgerAnchorUnknownCheckpoint} unless `index` < count.
    function _checkpoint(uint256 index)
        private
        view
        returns (uint64 treeSize, bytes32 rootHash, uint64 anchoredAt)
    {
        Head memory head = _head;
        if (index >= head.count) {
            revert LedgerAnchorUnknownCheckpoint(index, head.count);
        }
        uint256 pairIndex = index >> 1;
        MetaPair memory pair = pairIndex == (uint256(head.count) - 1) >> 1
            ? MetaPair(head.evenTreeSize, head.evenAnchoredAt, head.oddTreeSize, head.oddAnchoredAt)
            : _archivedPairs[pairIndex];
        if (index & 1 == 0) {
            (treeSize, anchoredAt) = (pair.evenTreeSize, pair.evenAnchoredAt);
        } else {
            (treeSize, anchoredAt) = (pair.oddTreeSize, pair.oddAnchoredAt);
        }
        rootHash = _roots[index];
    }

    /**
     * @dev RFC 9162 §2.1.4.2: reverts unless `proof` shows that the tree of `second` leaves
     * with root `secondRoot` extends the tree of `first` leaves with root `firstRoot`.
     * Requires 0 < first < second.
     */
    function _checkConsistency(
        uint64 first,
        uint64 second,
        bytes32 firstRoot,
        bytes32 secondRoot,
        bytes32[] calldata proof
    ) private view {
        uint256 fn = first - 1;
        uint256 sn = second - 1;
        while (fn & 1 == 1) {
            fn >>= 1;
            sn >>= 1;
        }
        bytes32 fr;
        uint256 i;
        if (first & (first - 1) == 0) {
            // A power of two: the first tree is a complete subtree, its root the path's start.
            fr = firstRoot;
        } else {
            if (proof.length == 0) {
                revert LedgerAnchorProofLength(first, second, _consistencyProofLength(first, second), 0);
            }
            fr = proof[0];
            i = 1;
        }
        bytes32 sr = fr;
        for (; i < proof.length; ++i) {
            if (sn == 0) {
                revert LedgerAnchorProofLength(first, second, _consistencyProofLength(first, second), proof.length);
            }
            bytes32 c = proof[i];
            if (fn & 1 == 1 || fn == sn) {
                fr = _hashNode(c, fr);
                sr = _hashNode(c, sr);
                while (fn & 1 == 0 && fn != 0) {
                    fn >>= 1;
                    sn >>= 1;
                }
            } else {
                sr = _hashNode(sr, c);
            }
            fn >>= 1;
            sn >>= 1;
        }
        if (sn != 0) {
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
