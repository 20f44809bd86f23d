// SPDX-License-Identifier: MIT
pragma solidity ^0.8.20;

interface IPausable {
    function pause() external;
    function paused() external view returns (bool);
}

/// Shape (a), as the runbook reads: each signer sends `pause()` with their own key; the
/// contract counts confirmations, and once `threshold` signers confirmed within `window`
/// seconds of the first one it pauses its target. A round older than the window starts over.
contract PraetorTimelock {
    address[] private _signers;
    mapping(address => bool) public isSigner;
    uint256 public immutable threshold;
    uint256 public immutable window;
    IPausable public immutable target;

    uint256 public round;
    uint256 public roundStartedAt;
    uint256 public confirmations;
    mapping(uint256 => mapping(address => bool)) public confirmedIn;

    event Confirmed(address indexed signer, uint256 indexed round, uint256 count);
    event Executed(uint256 indexed round, address target);

    constructor(address[] memory signers_, uint256 threshold_, uint256 window_, address target_) {
        require(threshold_ > 0 && threshold_ <= signers_.length, "PraetorTimelock: bad threshold");
        for (uint256 i = 0; i < signers_.length; i++) {
            require(!isSigner[signers_[i]], "PraetorTimelock: duplicate signer");
            isSigner[signers_[i]] = true;
            _signers.push(signers_[i]);
        }
        threshold = threshold_;
        window = window_;
        target = IPausable(target_);
    }

    function getSigners() external view returns (address[] memory) {
        return _signers;
    }

    /// The effect, as the runbook's reader would check it on the timelock: is the target paused?
    function paused() external view returns (bool) {
        return target.paused();
    }

    function pause() external {
        require(isSigner[msg.sender], "PraetorTimelock: not a signer");
        require(!target.paused(), "PraetorTimelock: target already paused");
        if (confirmations == 0 || block.timestamp > roundStartedAt + window) {
            round += 1;
            roundStartedAt = block.timestamp;
            confirmations = 0;
        }
        require(!confirmedIn[round][msg.sender], "PraetorTimelock: already confirmed");
        confirmedIn[round][msg.sender] = true;
        confirmations += 1;
        emit Confirmed(msg.sender, round, confirmations);
        if (confirmations >= threshold) {
            confirmations = 0;
            target.pause();
            emit Executed(round, address(target));
        }
    }
}
