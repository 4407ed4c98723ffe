BeforeAll {
    . (Join-Path $PSScriptRoot 'DbSync.Pester.ps1')
}

Describe 'Disable-DbSync' {
    BeforeEach {
        $db = Copy-Chinook ("disable-" + [guid]::NewGuid().ToString('N').Substring(0, 6) + '.sqlite')
        Enable-DbSync -LiteralPath $db | Out-Null
    }

    It 'removes capture when nothing is pending' {
        $result = Disable-DbSync -LiteralPath $db -Confirm:$false
        $result.GetType().FullName | Should -Be 'DbSync.Core.CaptureResult'
        $result.DiscardedChanges | Should -Be 0
        "$result" | Should -Be "$($db): capture disabled, 11 table(s) released"
        (Get-DbSyncStatus -LiteralPath $db).CaptureEnabled | Should -BeFalse
    }

    It 'keeps the password of a connection string given as the path out of its What-if and verbose text' {
        (Invoke-ChildPwsh "Disable-DbSync -Path '$Pg' -WhatIf -ErrorAction SilentlyContinue").Output | Should -Match 'What if: .*Remove change capture.* on target ".*Password=\*\*\*;.*"'
        $shown = Get-StreamText { Disable-DbSync -Path $Pg -Confirm:$false -Verbose -ErrorAction SilentlyContinue }
        $shown | Should -Match 'Remove change capture.* on target ".*Password=\*\*\*;.*"'
        $shown | Should -Not -Match ([regex]::Escape((Get-PgPassword)))
    }

    It 'says with -WhatIf whether pending changes would be discarded, and changes nothing' {
        Invoke-Sqlite $db "DELETE FROM PlaylistTrack WHERE PlaylistId = 1"
        $before = Get-FileHashText $db
        (Invoke-ChildPwsh "Disable-DbSync -LiteralPath '$db' -WhatIf").Output | Should -Match 'Remove change capture \(refused while changes are not yet synced\)'
        (Invoke-ChildPwsh "Disable-DbSync -LiteralPath '$db' -Force -WhatIf").Output | Should -Match 'Remove change capture, discarding the changes not yet synced'
        Get-FileHashText $db | Should -Be $before
    }

    It 'refuses with DbSync.PendingChanges while changes are pending' {
        Invoke-Sqlite $db "DELETE FROM PlaylistTrack WHERE PlaylistId = 1"
        { Disable-DbSync -LiteralPath $db -Confirm:$false } | Should -Throw -ErrorId 'DbSync.PendingChanges,DbSync.PowerShell.Commands.DisableDbSyncCommand'
        # Shown with the cmdlet's parameter, not the CLI's option.
        try { Disable-DbSync -LiteralPath $db -Confirm:$false -ErrorAction Stop } catch { $shown = $_ }
        $shown.ToString() | Should -Match 'use -Force to discard them'
        $shown.ToString() | Should -Not -Match '--force'
        $shown.Exception.Message | Should -Match '--force'
        (Get-DbSyncStatus -LiteralPath $db).CaptureEnabled | Should -BeTrue
    }

    It '-Force discards pending changes and does not prompt in a non-interactive job' {
        Invoke-Sqlite $db "DELETE FROM PlaylistTrack WHERE PlaylistId = 1"
        $refused = Invoke-ChildPwsh "try { Disable-DbSync -LiteralPath '$db' -Confirm:`$false } catch { `$_.FullyQualifiedErrorId; exit 1 }"
        $refused.Output | Should -Match 'DbSync\.PendingChanges,'
        $refused.ExitCode | Should -Be 1
        $run = Invoke-ChildPwsh "(Disable-DbSync -LiteralPath '$db' -Force).DiscardedChanges"
        $run.ExitCode | Should -Be 0
        $run.Output.Trim() | Should -Be '3290'
        (Get-DbSyncStatus -LiteralPath $db).CaptureEnabled | Should -BeFalse
    }

    It 'asks for confirmation (ConfirmImpact High), which a non-interactive job cannot give' {
        $run = Invoke-ChildPwsh "Disable-DbSync -LiteralPath '$db'"
        $run.ExitCode | Should -Not -Be 0
        (Get-DbSyncStatus -LiteralPath $db).CaptureEnabled | Should -BeTrue
    }

    It '-Table removes the capture of the tables it names only, keeping the node id' {
        $node = (Get-DbSyncStatus -LiteralPath $db).NodeId
        $result = Disable-DbSync -LiteralPath $db -Table 'Playlist*' -Confirm:$false
        $result.Tables | Should -Be @('Playlist', 'PlaylistTrack')
        (Get-DbSyncStatus -LiteralPath $db).NodeId | Should -Be $node
        Invoke-Sqlite $db "SELECT count(*) FROM _dbsync_tables" -Scalar | Should -Be 9
        { Disable-DbSync -LiteralPath $db -Table 'Nothing*' -Confirm:$false } | Should -Throw -ErrorId 'DbSync.TableNotFound,DbSync.PowerShell.Commands.DisableDbSyncCommand'
    }

    It '-Purge leaves nothing named _dbsync_ in the file' {
        Disable-DbSync -LiteralPath $db -Purge -Force | Out-Null
        Invoke-Sqlite $db "SELECT count(*) FROM sqlite_master WHERE name LIKE '\_dbsync\_%' ESCAPE '\'" -Scalar | Should -Be 0
    }

    It 'changes nothing with -WhatIf, even with -Force' {
        $before = Get-FileHashText $db
        Disable-DbSync -LiteralPath $db -Force -WhatIf | Should -BeNullOrEmpty
        Get-FileHashText $db | Should -Be $before
    }
}
