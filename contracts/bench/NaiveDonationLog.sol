// SPDX-License-Identifier: Apache-2.0
pragma solidity 0.8.37;

import {AccessControl} from "@openzeppelin/contracts/access/AccessControl.sol";

/**
 * @title NaiveDonationLog
 * @notice The baseline of bench/bench_anchor_gas.py: the design shanlian does not use, one
 * transaction per donation storing its record on chain. Not deployed anywhere; compiled by
 * the same compiler with the same settings as the real contracts, so that the benchmark
 * compares like with like.
 */
contract NaiveDonationLog is AccessControl {
    /// @notice The role allowed to record donations: keccak256("RECORDER_ROLE").
    bytes32 public constant RECORDER_ROLE = keccak256("RECORDER_ROLE");

    /// A donation's public facts, as the journal's `donation.received` entry holds them.
    struct Donation {
        bytes32 charityId;
        bytes32 donorCommitment;
        uint128 amount;
        bytes3 currency;
        uint64 recordedAt;
    }

    mapping(bytes32 donationId => Donation) private _donations;

    /// @dev `donationId` was recorded before.
    error NaiveDonationLogDuplicate(bytes32 donationId);

    /// @dev Emitted when the donation `donationId` was recorded.
    event DonationRecorded(
        bytes32 indexed donationId, bytes32 indexed charityId, uint128 amount, bytes3 currency
    );

    /// @param admin receives `DEFAULT_ADMIN_ROLE` and `RECORDER_ROLE`.
    constructor(address admin) {
        _grantRole(DEFAULT_ADMIN_ROLE, admin);
        _grantRole(RECORDER_ROLE, admin);
    }

    /**
     * @notice Records one donation.
     *
     * Requirements:
     *
     * - the caller must have `RECORDER_ROLE`.
     * - `donationId` must not have been recorded.
     *
     * Emits a {DonationRecorded} event.
     */
    function recordDonation(
        bytes32 donationId,
        bytes32 charityId,
        bytes32 donorCommitment,
        uint128 amount,
        bytes3 currency
    ) external onlyRole(RECORDER_ROLE) {
        if (_donations[donationId].recordedAt != 0) {
            revert NaiveDonationLogDuplicate(donationId);
        }
        _donations[donationId] =
            Donation(charityId, donorCommitment, amount, currency, uint64(block.timestamp));
        emit DonationRecorded(donationId, charityId, amount, currency);
    }

    /// @notice The donation `donationId` (all zero if never recorded).
    function donationOf(bytes32 donationId) external view returns (Donation memory) {
        return _donations[donationId];
    }
}
